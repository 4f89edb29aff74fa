import { performance } from 'node:perf_hooks'
import type { FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { BalancerSet } from './balancer-set.js'
import { NoAvailableTargetError } from './errors.js'
import type { Target } from './target.js'
import { failureReason, toProxyError } from './upstream-errors.js'
import type { UpstreamPool } from './upstream-pool.js'

/** One try of a proxied request: which target, and how it ended. */
export interface TryRecord {
  target: string
  /** Response status, when the target answered. */
  status?: number
  /** Error code, when it did not. */
  error?: string
  /** Time to the response headers (or to the error), ms. */
  durationMs: number
}

type Handler = Dispatcher.DispatchHandler
type Abort = (reason?: Error) => void
// The classic handler methods as undici's Client calls them (its typings lag behind the runtime).
type OnConnect = (abort: Abort, context?: object) => void
type OnHeaders = (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string) => boolean

/**
 * One request through a pool. It is the undici handler of every try: it sees the connection, the
 * status, every chunk and the end, keeps the target's in-flight count and health accounting, and
 * passes the response on to the caller's handler (reply-from's, or any undici consumer's).
 *
 * It speaks undici's classic handler API (onConnect/onHeaders/onData/onComplete/onError), the one
 * undici's Client runs internally, so undici wraps nothing on the way.
 */
export class ProxyCall implements Handler {
  readonly pool: UpstreamPool
  readonly balancers: BalancerSet
  readonly request: FastifyRequest | undefined
  readonly tries: TryRecord[] = []
  private opts!: Dispatcher.DispatchOptions
  private handler!: Handler
  private target: Target | undefined = undefined
  private startedAt = 0
  private abortTry: Abort | undefined = undefined
  private clientAbort: Abort | undefined = undefined
  private abortedByClient = false

  constructor (pool: UpstreamPool, balancers: BalancerSet, request: FastifyRequest | undefined) {
    this.pool = pool
    this.balancers = balancers
    this.request = request
  }

  /** Name of the upstream this request goes to. */
  get upstream (): string {
    return this.pool.name
  }

  /** Used by the balancers: a request never goes to the same target twice. */
  excludes (target: Target): boolean {
    const tries = this.tries
    for (let i = 0; i < tries.length; i++) if (tries[i].target === target.url) return true
    return false
  }

  dispatch (opts: Dispatcher.DispatchOptions, handler: Handler): boolean {
    this.opts = opts
    this.handler = handler
    const target = this.balancers.pick(this.request, opts, this)
    if (target === undefined) {
      handler.onError!(new NoAvailableTargetError(this.pool.name))
      return false
    }
    return this.send(target)
  }

  private send (target: Target): boolean {
    this.target = target
    this.startedAt = performance.now()
    this.pool.begin(target)
    let opts = this.opts
    const headers = opts.headers as Record<string, unknown> | undefined
    // reply-from addresses the pool by a placeholder origin; the target is told its own host.
    if (headers !== undefined && headers !== null && !Array.isArray(headers) && typeof headers.host === 'string') {
      headers.host = target.host
    }
    if (target.basePath !== '') opts = { ...opts, path: target.basePath + opts.path }
    return target.dispatcher.dispatch(opts, this)
  }

  onConnect (abort: Abort, context?: object): void {
    this.abortTry = abort
    if (this.clientAbort === undefined) {
      this.clientAbort = (reason?: Error) => {
        this.abortedByClient = true
        this.abortTry!(reason)
      }
      (this.handler.onConnect as OnConnect)(this.clientAbort, context)
    }
  }

  onResponseStarted (): void {
    this.handler.onResponseStarted?.()
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string): boolean {
    const target = this.target!
    const durationMs = performance.now() - this.startedAt
    this.tries.push({ target: target.url, status: statusCode, durationMs })
    target.recordLatency(durationMs)
    this.pool.recordStatus(target, statusCode)
    return (this.handler.onHeaders as OnHeaders)(statusCode, rawHeaders, resume, statusMessage)
  }

  onData (chunk: Buffer): boolean {
    return this.handler.onData!(chunk)
  }

  onComplete (trailers: string[] | null): void {
    this.finish()
    this.handler.onComplete!(trailers)
  }

  onUpgrade (statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: unknown): void {
    this.finish()
    ;(this.handler.onUpgrade as (s: number, h: unknown, socket: unknown) => void)(statusCode, rawHeaders, socket)
  }

  onError (err: Error): void {
    const target = this.target
    if (target === undefined) {
      this.handler.onError!(err)
      return
    }
    const answered = this.tries.length > 0 && this.tries[this.tries.length - 1].target === target.url
    this.finish()
    if (this.abortedByClient) {
      // The client went away: not the target's fault, nothing to tell anyone.
      this.handler.onError!(err)
      return
    }
    if (!answered) {
      this.tries.push({ target: target.url, error: failureReason(err), durationMs: performance.now() - this.startedAt })
      this.pool.recordFailure(target, failureReason(err))
      this.handler.onError!(toProxyError(err, target.url))
      return
    }
    // The body broke off after the headers went on: the status is already with the client.
    this.pool.recordFailure(target, failureReason(err))
    this.handler.onError!(err)
  }

  private finish (): void {
    const target = this.target
    if (target !== undefined) {
      this.target = undefined
      this.pool.end(target)
    }
  }
}
