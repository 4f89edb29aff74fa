import type { IncomingHttpHeaders } from 'node:http'
import { Dispatcher } from 'undici'
import { classicHandler } from '../proxy/caller-handler.js'
import { kFromCall, type FromCall } from './from-call.js'

/**
 * The one dispatcher reply-from is given. Every request reply-from sends through it carries its
 * FromCall (made by our reply.from, which knows the route's pool and policy) under a symbol key of its
 * headers, which undici never sends; the call sends it through the route's pool. It owns nothing:
 * closing the pools is the plugin's job, so closing or destroying it is a no-op (reply-from only
 * does either when told to with `destroyAgent`, which we do not).
 */
export class LollyRouter extends Dispatcher {
  override dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // Our request-header hook sets the call on every request reply-from builds (reply-from-hooks.ts).
    const call = (opts.headers as IncomingHttpHeaders & { [kFromCall]: FromCall })[kFromCall]
    call.send(opts, classicHandler(handler))
    return true
  }

  override close (): Promise<void>
  override close (callback: () => void): void
  override close (callback?: () => void): Promise<void> | void {
    if (callback === undefined) return Promise.resolve()
    process.nextTick(callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: () => void): void
  override destroy (err: Error | null, callback: () => void): void
  override destroy (errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback
    if (cb === undefined) return Promise.resolve()
    process.nextTick(cb)
  }
}
