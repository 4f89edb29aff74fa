import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { errors as undiciErrors, type Dispatcher } from 'undici'
import type { BalancerSet } from './balancer-set.js'
import { NoAvailableTargetError } from './errors.js'
import type { NormalizedRetry } from './options/retry-options.js'
import { findRetryAfter, retryAfterUntil } from './retry-after.js'
import { backoffDelay, isIdempotent, isReplayable, isRetryableError } from './retry-policy.js'
import type { Target } from './target.js'
import { failureReason, isProxySide, isRequestSide, toProxyError, toRequestError } from './upstream-errors.js'
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

/** The error of a try cut because the client went away: not the target's doing. */
export const CLIENT_ABORTED = 'CLIENT_ABORTED'

/** What a route adds to its pool's settings for each request: failover policy and per-try timeouts. */
export interface CallSettings {
  retry?: NormalizedRetry
  /** undici's headersTimeout for each try (the route's responseTimeout), ms. */
  headersTimeout?: number
  bodyTimeout?: number
}

/** Where the request's log lines go: Fastify's reply (its `log` writes "request completed"). */
export interface LogHolder {
  log: FastifyBaseLogger
}

type Handler = Dispatcher.DispatchHandler
type Abort = (reason?: Error) => void
// The classic handler methods as undici's Client calls them (its typings lag behind the runtime).
type OnConnect = (abort: Abort, context?: object) => void
type OnHeaders = (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string) => boolean

// A swallowed (retried) response body is read to its end so its keep-alive connection is kept; past
// this many bytes the connection is cut instead: waiting for a large error page delays the retry.
const MAX_DISCARD_BYTES = 64 * 1024
const kDiscardLimit = 'discarded response body too large'

/** What the caller's abort function holds: the call until it settles, then nothing. */
class CallerLink {
  call: ProxyCall | undefined
  constructor (call: ProxyCall) {
    this.call = call
  }
}

/**
 * One request through a pool. It is the undici handler of every try: it sees the connection, the
 * status, every chunk and the end, keeps the targets' in-flight counts and health accounting, moves
 * a failed request on to another target (failover), and passes the one response it settles on to
 * the caller's handler (reply-from's, or any undici consumer's).
 *
 * It speaks undici's classic handler API (onConnect/onHeaders/onData/onComplete/onError), the one
 * undici's Client runs internally, so undici wraps nothing on the way.
 *
 * Nothing reaches the caller's handler before a try's response is chosen to be the answer
 * ("committed"): a try that fails before that, or answers with a retried status, is retried
 * elsewhere and the caller never hears of it. After the commit there is no retry.
 */
export class ProxyCall implements Handler {
  readonly pool: UpstreamPool
  readonly balancers: BalancerSet
  readonly request: FastifyRequest | undefined
  /** Every try of the request, shared with the calls a caller's retry forks from this one. */
  readonly tries: TryRecord[]
  private readonly settings: CallSettings | undefined
  private readonly retry: NormalizedRetry
  private readonly headersTimeout: number | undefined
  private readonly bodyTimeout: number | undefined
  private readonly logHolder: LogHolder | undefined
  private opts!: Dispatcher.DispatchOptions
  private handler!: Handler
  private dispatched = false
  /** The target of the try in flight; undefined between tries. */
  private target: Target | undefined = undefined
  private startedAt = 0
  private firstStartedAt = 0
  /** undici opened the connection of the try in flight and started sending (its onConnect ran). */
  private connected = false
  private abortTry: Abort | undefined = undefined
  /** The function the caller's handler got to abort the request; made once, on the first connection. */
  private callerAbort: Abort | undefined = undefined
  private callerLink: CallerLink | undefined = undefined
  /** The caller's handler has been given a response (onHeaders): no retry from here on. */
  private committed = false
  /** The try in flight answered with a retried status: its body is read and dropped. */
  private discarding = false
  private discardedBytes = 0
  /** Target of the retry decided while the current try ends. */
  private next: Target | undefined = undefined
  /** The caller's handler got its last callback. */
  private settled = false
  private abortedByClient = false
  /** Holds a slot of the pool's retry budget. */
  private holdsBudget = false
  private backoffTimer: NodeJS.Timeout | undefined = undefined
  /** Backoff before the planned retry, ms. */
  private delay = 0
  /** Wall clock of the current pick, for targets' Retry-After. */
  private now = 0
  /** Picking with the targets already tried allowed again (retry.sameTarget). */
  private repeating = false
  /** The next pick is the first of a caller's retry: a target already tried may be picked again. */
  private again = false
  /** The call this one was forked from (itself when none): it holds the tries and how many were reported. */
  private readonly root: ProxyCall
  /** Tries the pool has been told about (kept on the root). */
  private reported = 0
  /** A caller's retry that came while this call was busy, running as a call of its own. */
  private forked: ProxyCall | undefined = undefined

  constructor (pool: UpstreamPool, balancers: BalancerSet, request: FastifyRequest | undefined, settings?: CallSettings, logHolder?: LogHolder, root?: ProxyCall) {
    this.pool = pool
    this.balancers = balancers
    this.request = request
    this.settings = settings
    this.root = root ?? this
    this.tries = root === undefined ? [] : root.tries
    this.retry = settings?.retry ?? pool.config.retry
    this.headersTimeout = settings?.headersTimeout
    this.bodyTimeout = settings?.bodyTimeout
    this.logHolder = logHolder
  }

  /** Name of the upstream this request goes to. */
  get upstream (): string {
    return this.pool.name
  }

  /**
   * Used by the balancers: a request never goes to the same target twice, nor to a target whose
   * Retry-After has not passed. Bounded by the number of tries (1 + retry.attempts), so O(1).
   */
  excludes (target: Target): boolean {
    if (target.retryAfterUntil > this.now) return true
    if (this.repeating) return false
    const tries = this.tries
    for (let i = 0; i < tries.length; i++) if (tries[i].target === target.url) return true
    return false
  }

  /**
   * A caller (reply-from's retryDelay) may send the same call again: that is a new answer, and the
   * caller's own retry, whose first pick may go back to a target the request tried when there is no
   * other. reply-from retries as soon as it has the answer's headers, while that body may still
   * stream: then the retry runs as a call of its own (every handler callback of a try comes to the
   * call that sent it), sharing this one's tries.
   */
  dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.dispatched && !this.settled) {
      if (this.forked === undefined) this.forked = new ProxyCall(this.pool, this.balancers, this.request, this.settings, this.logHolder, this.root)
      return this.forked.dispatch(opts, handler)
    }
    if (this.abortedByClient) {
      // The client is gone: a caller's retry has no one to answer.
      handler.onError!(new undiciErrors.RequestAbortedError())
      return false
    }
    return this.start(opts, handler, this.dispatched || this.root !== this)
  }

  private start (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, again: boolean): boolean {
    // Per-route timeouts apply unless the caller set its own for this request (reply.from's `timeout`).
    if ((this.headersTimeout !== undefined && opts.headersTimeout == null) || (this.bodyTimeout !== undefined && opts.bodyTimeout == null)) {
      opts = { ...opts, headersTimeout: opts.headersTimeout ?? this.headersTimeout, bodyTimeout: opts.bodyTimeout ?? this.bodyTimeout }
    }
    this.opts = opts
    this.handler = handler
    this.again = again
    this.dispatched = true
    this.settled = false
    this.committed = false
    // ...with a new handler, which gets its own abort function at the first connection.
    this.callerAbort = undefined
    this.callerLink = undefined
    this.firstStartedAt = performance.now()
    this.pool.retryBudget.recordRequest(this.firstStartedAt)
    const target = this.pick()
    // Only the first pick: this send's own failover never goes back to a target it tried.
    this.again = false
    if (target === undefined) {
      this.settle()
      handler.onError!(new NoAvailableTargetError(this.pool.name))
      return false
    }
    return this.send(target)
  }

  /**
   * The client went away (or the caller's handler gave up): stop the try in flight without holding
   * it against the target, give its in-flight slot back, and tell the caller's handler once.
   */
  abort (reason?: Error): void {
    this.forked?.abort(reason)
    // Nothing to stop: told already, or never dispatched (reply-from refused the request first).
    if (this.abortedByClient || !this.dispatched) return
    this.abortedByClient = true
    // Ended already: nothing in flight, and no retry of the caller's may start now (see dispatch).
    if (this.settled) return
    const err = reason ?? new undiciErrors.RequestAbortedError()
    this.cancelBackoff()
    const target = this.target
    if (target !== undefined) {
      if (this.abortTry !== undefined) {
        // undici calls onError synchronously, which settles the call (see onError).
        this.abortTry(err)
        return
      }
      // Not connected yet: undici's onConnect or onError may still come; both are ignored once settled.
      this.tries.push({ target: target.url, error: CLIENT_ABORTED, durationMs: performance.now() - this.startedAt })
      this.endTry()
    }
    this.settle()
    this.handler.onError!(err)
  }

  private pick (): Target | undefined {
    this.now = this.pool.now()
    let target = this.balancers.pick(this.request, this.opts, this)
    if (target === undefined && (this.retry.sameTarget || this.again) && this.tries.length > 0) {
      // No target left that was not tried: the only one that can take traffic may be tried again.
      this.repeating = true
      target = this.balancers.pick(this.request, this.opts, this)
      this.repeating = false
    }
    return target
  }

  private send (target: Target): boolean {
    this.target = target
    this.connected = false
    this.abortTry = undefined
    this.discarding = false
    this.discardedBytes = 0
    this.startedAt = performance.now()
    this.pool.begin(target)
    let opts = this.opts
    const headers = opts.headers as Record<string, unknown> | null | undefined
    // reply-from addresses the pool by a placeholder origin; the target is told its own host.
    if (headers != null && typeof headers.host === 'string') {
      headers.host = target.host
    }
    if (target.basePath !== '') opts = { ...opts, path: target.basePath + opts.path }
    return target.dispatcher.dispatch(opts, this)
  }

  onConnect (abort: Abort, context?: object): void {
    if (this.abortedByClient) {
      // The client left while this try was still connecting.
      abort(new undiciErrors.RequestAbortedError())
      return
    }
    this.connected = true
    this.abortTry = abort
    if (this.callerAbort === undefined) {
      // The caller's handler keeps this function as long as the response body lives (undici hands it
      // to the body stream). It reaches the call through a link that settle() cuts, so a finished
      // request's whole graph (options, headers, handler) is garbage at once instead of surviving
      // into the old generation: measured, that was most of the proxy's GC cost.
      const link = this.callerLink = new CallerLink(this)
      this.callerAbort = (reason?: Error) => link.call?.abort(reason)
      ;(this.handler.onConnect as OnConnect)(this.callerAbort, context)
    }
  }

  onResponseStarted (): void {
    this.handler.onResponseStarted?.()
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string): boolean {
    const handler = this.handler
    // 1xx (100 Continue, 103 Early Hints) come before the real answer.
    if (statusCode < 200) return (handler.onHeaders as OnHeaders)(statusCode, rawHeaders, resume, statusMessage)
    const target = this.target!
    const durationMs = performance.now() - this.startedAt
    this.tries.push({ target: target.url, status: statusCode, durationMs })
    target.recordLatency(durationMs)
    this.pool.recordStatus(target, statusCode)
    if (statusCode === 503 && this.retry.maxRetryAfter > 0) this.noteRetryAfter(target, rawHeaders)
    if (this.retry.statuses.has(statusCode) && this.mayRetry(true) && this.planRetry()) {
      this.discarding = true
      return true
    }
    this.committed = true
    this.describeTries()
    return (handler.onHeaders as OnHeaders)(statusCode, rawHeaders, resume, statusMessage)
  }

  onData (chunk: Buffer): boolean {
    if (this.discarding) {
      this.discardedBytes += chunk.length
      if (this.discardedBytes > MAX_DISCARD_BYTES) this.abortTry!(new Error(kDiscardLimit))
      return true
    }
    return this.handler.onData!(chunk)
  }

  onComplete (trailers: string[] | null): void {
    this.endTry()
    if (this.discarding) {
      this.sendNext()
      return
    }
    this.settle()
    this.handler.onComplete!(trailers)
  }

  onUpgrade (statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: unknown): void {
    const target = this.target!
    this.tries.push({ target: target.url, status: statusCode, durationMs: performance.now() - this.startedAt })
    this.endTry()
    this.committed = true
    this.settle()
    ;(this.handler.onUpgrade as (s: number, h: unknown, socket: unknown) => void)(statusCode, rawHeaders, socket)
  }

  onError (err: Error): void {
    const target = this.target
    // A try the call already let go of (the client left before it connected): nothing to do.
    if (target === undefined) return
    const connected = this.connected
    const durationMs = performance.now() - this.startedAt
    this.endTry()
    if (this.abortedByClient) {
      // The client went away: not the target's fault. A try that had answered keeps its status as its record.
      if (!this.committed && !this.discarding) this.tries.push({ target: target.url, error: CLIENT_ABORTED, durationMs })
      this.settle()
      this.handler.onError!(err)
      return
    }
    if (this.discarding) {
      // The retried answer's body broke off, or was cut (too large): its status already counted.
      this.sendNext()
      return
    }
    const reason = failureReason(err)
    if (isRequestSide(err)) {
      // undici refused the request as built (say, a header a route copied from client input): the
      // target never saw it, so it is not charged, and no other target would take it either.
      this.tries.push({ target: target.url, error: reason, durationMs })
      this.settle()
      this.handler.onError!(toRequestError(err))
      return
    }
    if (isProxySide(err)) {
      this.tries.push({ target: target.url, error: reason, durationMs })
      this.settle()
      this.handler.onError!(toProxyError(err, target.url))
      return
    }
    this.pool.recordFailure(target, reason)
    if (this.committed) {
      // The body broke off after the headers went on: the status is already with the client.
      this.settle()
      this.handler.onError!(err)
      return
    }
    this.tries.push({ target: target.url, error: reason, durationMs })
    if (isRetryableError(this.retry, err, connected) && this.mayRetry(connected) && this.planRetry()) {
      this.sendNext()
      return
    }
    this.settle()
    this.handler.onError!(toProxyError(err, target.url))
  }

  /** Whether the request may be sent again: attempts, method and body allow it. */
  private mayRetry (reachedTarget: boolean): boolean {
    const retry = this.retry
    if (this.tries.length > retry.attempts) return false
    if (reachedTarget && !retry.nonIdempotent && !isIdempotent(this.opts.method)) return false
    return isReplayable(this.opts.body)
  }

  /**
   * Picks the next target, waits out the backoff (if it ends before retry.timeout) and takes a
   * retry-budget slot; false, with nothing held, if any of them says no.
   */
  private planRetry (): boolean {
    const retry = this.retry
    const budget = this.pool.retryBudget
    // A retry that fails again gives its slot to the one after it.
    if (this.holdsBudget) {
      budget.release()
      this.holdsBudget = false
    }
    const now = performance.now()
    const delay = retry.backoff === 0 ? 0 : backoffDelay(retry.backoff, this.tries.length, Math.random())
    if (retry.timeout !== 0 && now + delay - this.firstStartedAt >= retry.timeout) return false
    const next = this.pick()
    if (next === undefined || !budget.tryAcquire(retry.budget, now)) return false
    this.holdsBudget = true
    this.next = next
    this.delay = delay
    return true
  }

  /** Starts the planned retry, after the backoff if there is one. */
  private sendNext (): void {
    if (this.delay === 0) {
      this.startNext()
      return
    }
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined
      this.startNext()
    }, this.delay)
  }

  private startNext (): void {
    let next = this.next!
    this.next = undefined
    // The target picked when the try failed may have gone out meanwhile (backoff, a drained body).
    if (!next.canTake()) {
      const other = this.pick()
      if (other === undefined) {
        // The failed try's answer was dropped or its error is stale: no target can take the request now.
        this.settle()
        this.handler.onError!(new NoAvailableTargetError(this.pool.name))
        return
      }
      next = other
    }
    this.send(next)
  }

  private noteRetryAfter (target: Target, rawHeaders: Buffer[]): void {
    const now = this.pool.now()
    const until = retryAfterUntil(findRetryAfter(rawHeaders), now, this.retry.maxRetryAfter)
    if (until !== undefined) target.retryAfterUntil = until
  }

  private endTry (): void {
    const target = this.target!
    this.target = undefined
    this.abortTry = undefined
    this.pool.end(target)
  }

  private settle (): void {
    this.settled = true
    if (this.callerLink !== undefined) this.callerLink.call = undefined
    this.next = undefined
    this.cancelBackoff()
    if (this.holdsBudget) {
      this.holdsBudget = false
      this.pool.retryBudget.release()
    }
    if (!this.committed) this.describeTries()
    // Every try has its record by now, a client abort's included (Fastify runs no onResponse for those).
    const tries = this.tries
    const root = this.root
    this.pool.recordTries(tries, root.reported)
    root.reported = tries.length
  }

  private cancelBackoff (): void {
    if (this.backoffTimer !== undefined) {
      clearTimeout(this.backoffTimer)
      this.backoffTimer = undefined
    }
  }

  /**
   * A request that failed over gets its tries on its own log line ("request completed"): a child
   * logger, made only then, replaces the request's, so a request that went through on its first try
   * costs nothing and Fastify's line for one that did not says which targets were tried and why.
   */
  private describeTries (): void {
    const holder = this.logHolder
    if (holder === undefined || this.tries.length < 2) return
    const log = holder.log.child({ lolly: { upstream: this.pool.name, tries: this.tries } })
    holder.log = log
    this.request!.log = log
  }
}
