import { Dispatcher } from 'undici'
import { kProxyCall } from './reply-from-bridge.js'
import type { ProxyCall } from './proxy-call.js'
import type { UpstreamPool } from './upstream-pool.js'

/**
 * The one dispatcher reply-from is given. Each request carries its ProxyCall (made by our
 * reply.from, which knows the route's pool and policy) under a symbol key of its headers; the
 * router hands the request to that pool. Closing is the plugin's job: it closes the pools.
 */
export class LollyRouter extends Dispatcher {
  private readonly fallback: UpstreamPool

  constructor (fallback: UpstreamPool) {
    super()
    this.fallback = fallback
  }

  override dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const call = (opts.headers as { [kProxyCall]?: ProxyCall } | null | undefined)?.[kProxyCall]
    if (call === undefined) return this.fallback.dispatch(opts, handler)
    return call.pool.dispatchFor(call, call.balancers, opts, handler)
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
