import { performance } from 'node:perf_hooks'
import type { FastifyRequest } from 'fastify'
import { errors as undiciErrors, type Dispatcher } from 'undici'
import type { BalancerSet, Exclusion } from '../balancers/balancer-set.js'
import { NoAvailableTargetError, PoolClosedError, TargetDownError, UpgradeRefusedError } from '../errors.js'
import { retryDelay, type TryFailure } from '../failover/failover-policy.js'
import { holdOffUntil } from '../failover/retry-after.js'
import { RetryPlan } from '../failover/retry-plan.js'
import { CLIENT_ABORTED, type TryRecord } from '../pool/pool-events.js'
import type { Target } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import { withRouteTimeouts, type Abortable, type Destination, type RequestSettings, type SettleListener } from './destination.js'
import { CallerLink, type OnConnect, type OnHeaders } from './caller-handler.js'
import { ProxyTry, type TryOwner } from './proxy-try.js'
import { failureReason, notTheTargets, toProxyError } from './upstream-errors.js'

type Handler = Dispatcher.DispatchHandler

// What a hash key is read from when the request has a Fastify request (which the key comes from).
const NO_DISPATCH: Dispatcher.DispatchOptions = { method: 'GET', path: '/' }

/**
 * One request through a pool, from its first try to the one answer (or error) its caller gets: it
 * settles exactly once. Each try is an object of its own (proxy-try.ts); this moves a failed request
 * on to another target (failover, as failover-policy.ts decides and the pool's retry budget allows)
 * and passes the answer it settles on to the caller's handler (reply-from's, or any undici consumer's).
 * Nothing reaches that handler before a try's answer is chosen ("committed"); after it, no retry.
 *
 * Its tries go to `log`, shared with a caller's retry of the same call (reply-from's `retryDelay`): a
 * request of its own, whose first pick may go back to a tried target when there is no other.
 */
export class ProxiedRequest implements TryOwner, Exclusion, Abortable {
  private readonly pool: UpstreamPool
  private readonly balancers: BalancerSet
  private readonly log: TryRecord[]
  private readonly request: FastifyRequest | undefined
  private readonly listener: SettleListener | undefined
  /** Where this request's tries start in the log. */
  private readonly from: number
  private opts!: Dispatcher.DispatchOptions
  private handler!: Handler
  /** The try in flight; undefined between tries. */
  private attempt: ProxyTry | undefined = undefined
  private firstStartedAt = 0
  /** The request's hash key, for hash balancers ('' for the others); undefined until computed. */
  private key: string | undefined = undefined
  /** The target of the first try, when chosen before the request was built (see chooseFirst). */
  private first: Target | undefined = undefined
  /** Send the Host header as the caller built it, to every target (see keepHostHeader). */
  private hostKept = false
  /** Wall clock of the current pick, for targets' Retry-After. */
  private now = 0
  /** Picking may go back to a target the log tried: the first pick of a caller's retry, or retry.sameTarget. */
  private repeating = false
  private callerLink: CallerLink<ProxiedRequest> | undefined = undefined
  /** The caller's handler has its answer (onHeaders): no retry from here on. */
  private committed = false
  private abortedByClient = false
  /** Tries this request added to the log. */
  private tried = 0
  /** The retry planned while a failed try ends; made at the first one. */
  private plan: RetryPlan<Target> | undefined = undefined
  private readonly settings: RequestSettings

  constructor (destination: Destination, log: TryRecord[], request?: FastifyRequest, listener?: SettleListener) {
    this.pool = destination.pool
    this.balancers = destination.balancers
    this.log = log
    this.from = log.length
    this.request = request
    this.listener = listener
    this.settings = destination.settings
  }

  /** Sends the request to its first target, or fails it at once when no target can take it. */
  start (opts: Dispatcher.DispatchOptions, handler: Handler): void {
    this.opts = opts = withRouteTimeouts(opts, this.settings)
    this.handler = handler
    const pool = this.pool
    if (pool.closed) return this.fail(new PoolClosedError(pool.name))
    // The route's hashKey function threw: nothing was sent, and the request cannot be placed.
    const keyError = this.computeKey(opts)
    if (keyError !== undefined) return this.fail(keyError)
    this.firstStartedAt = performance.now()
    pool.retryBudget.recordRequest(this.firstStartedAt)
    // A target chosen beforehand goes first while it can take traffic: health and Retry-After still decide.
    const first = this.first
    // A caller's retry: its first pick may go back to a target the call tried, when no other can take it.
    const target = first !== undefined && pool.canTake(first) && first.retryAfterUntil <= Date.now() ? first : this.pick(this.from > 0)
    if (target === undefined) this.fail(new NoAvailableTargetError(pool.name))
    else this.send(target)
  }

  /**
   * Picks the first try's target before the request is sent, so that a caller's hooks can see where
   * it goes (reply-from's `getUpstream` and `rewriteRequestHeaders`): undefined when no target can
   * take it now, or when the route's hashKey function threw (start() then fails the request with it).
   */
  chooseFirst (): Target | undefined {
    if (this.computeKey(NO_DISPATCH) !== undefined) return undefined
    this.first ??= this.pick(this.from > 0)
    return this.first
  }

  /** The first try goes to `target` (a caller chose it among the pool's), unless it cannot take traffic. */
  preferFirst (target: Target): void { this.first = target }

  /** The caller set its own Host header: every try sends it as it is, instead of its target's host. */
  keepHostHeader (): void { this.hostKept = true }

  /**
   * The client went away (or the caller's handler gave up): stop the try in flight without holding
   * it against the target, and tell the caller's handler once. Only ever called before the request
   * settled (the caller's abort function is cut then, see CallerLink).
   */
  abort (reason?: Error): void {
    this.abortedByClient = true
    const err = reason ?? new undiciErrors.RequestAbortedError()
    const attempt = this.attempt
    if (attempt !== undefined) {
      // undici reports the abort (onError) at once, which settles the request (see tryFailed); if
      // the try completed in undici already, its own end settles the request instead.
      if (attempt.connected) return attempt.abort(err)
      // Not connected yet: whatever undici says of it later reaches nobody.
      this.attempt = undefined
      attempt.letGo(CLIENT_ABORTED)
      this.record(attempt, undefined, CLIENT_ABORTED)
    }
    this.fail(err)
  }

  /** For the balancers: never the same target twice, nor one whose Retry-After has not passed; O(tries), at most 1 + retry.attempts. */
  excludes (target: Target): boolean {
    if (target.retryAfterUntil > this.now) return true
    if (this.repeating) return false
    const log = this.log
    for (let i = 0; i < log.length; i++) if (log[i].target === target.url) return true
    return false
  }

  // ---- what the try in flight reports ----

  tryConnected (_attempt: ProxyTry, context: object | undefined): void {
    // The caller's handler gets its abort function once, at the first connection (see CallerLink).
    if (this.callerLink !== undefined) return
    const link = this.callerLink = new CallerLink<ProxiedRequest>(this)
    ;(this.handler.onConnect as OnConnect)((reason?: Error) => link.request?.abort(reason), context)
  }

  tryHeaders (attempt: ProxyTry, statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string | undefined): boolean {
    const handler = this.handler
    // 1xx (100 Continue, 103 Early Hints) come before the real answer.
    if (statusCode < 200) return (handler.onHeaders as OnHeaders)(statusCode, rawHeaders, resume, statusMessage)
    if (this.opts.upgrade != null && statusCode < 300) {
      // undici reports the abort (onError, so tryFailed) within this call: see UpgradeRefusedError.
      attempt.abort(new UpgradeRefusedError(statusCode))
      return false
    }
    const target = attempt.target
    const durationMs = this.record(attempt, statusCode, undefined)
    this.pool.tryAnswered(target, statusCode, durationMs)
    const until = holdOffUntil(statusCode, rawHeaders, this.settings.retry.maxRetryAfter)
    if (until !== undefined) this.pool.holdOff(target, until)
    if (this.settings.retry.statuses.has(statusCode) && this.planRetry({ status: statusCode })) {
      attempt.discard()
      return true
    }
    this.commit(attempt)
    return (handler.onHeaders as OnHeaders)(statusCode, rawHeaders, resume, statusMessage)
  }

  tryData (chunk: Buffer): boolean {
    return this.handler.onData!(chunk)
  }

  tryComplete (attempt: ProxyTry, trailers: string[] | null): void {
    this.attempt = undefined
    if (attempt.discarded) return this.sendNext()
    this.settle()
    this.handler.onComplete!(trailers)
  }

  tryUpgrade (attempt: ProxyTry, statusCode: number, rawHeaders: unknown, socket: unknown): void {
    this.attempt = undefined
    this.pool.tryAnswered(attempt.target, statusCode, this.record(attempt, statusCode, undefined)) // a good answer
    this.commit(attempt)
    this.settle()
    ;(this.handler.onUpgrade as (s: number, h: unknown, socket: unknown) => void)(statusCode, rawHeaders, socket)
  }

  tryFailed (attempt: ProxyTry, err: Error): void {
    this.attempt = undefined
    const target = attempt.target
    if (this.abortedByClient) {
      // The client went away: not the target's fault. A try that had answered keeps its status as its record.
      if (!this.committed && !attempt.discarded) this.record(attempt, undefined, CLIENT_ABORTED)
      return this.fail(err)
    }
    // The retried answer's body broke off, or was cut (too large): its status already counted.
    if (attempt.discarded) return this.sendNext()
    const reason = failureReason(err)
    // Cut by tryTargetDown, its retry planned: the target is out already, nothing to charge.
    if (err instanceof TargetDownError) {
      this.record(attempt, undefined, reason)
      return this.sendNext()
    }
    const clientError = notTheTargets(err, target.url)
    if (clientError !== undefined) {
      this.record(attempt, undefined, reason)
      return this.fail(clientError)
    }
    this.pool.tryFailed(target, reason)
    // The body broke off after the headers went on: the status is already with the client.
    if (this.committed) return this.fail(err)
    this.record(attempt, undefined, reason)
    if (this.planRetry({ error: err, connected: attempt.connected })) return this.sendNext()
    this.fail(toProxyError(err, target.url))
  }

  tryTargetDown (attempt: ProxyTry): void {
    // Moved only when it may go elsewhere; any other request waits for its answer, which may still come.
    const err = new TargetDownError(attempt.target.url)
    if (!this.planRetry({ error: err, connected: attempt.connected }, 1)) return
    // Connected: undici reports the abort (onError, so tryFailed) within this call.
    if (attempt.connected) return attempt.abort(err)
    this.attempt = undefined
    attempt.letGo(err.code)
    this.record(attempt, undefined, err.code)
    this.sendNext()
  }

  // ---- failover ----

  /** Computes the request's hash key, once; returns what the route's hashKey function threw. */
  private computeKey (opts: Dispatcher.DispatchOptions): Error | undefined {
    if (this.key !== undefined) return undefined
    try {
      this.key = this.balancers.keyOf(this.request, opts)
    } catch (err) {
      return err as Error
    }
  }

  /** Decides a failed try's retry (failover-policy.ts), picks its target, takes a retry-budget slot; false, holding nothing, if one says no. `unrecorded`: the failed try is not in the log yet. */
  private planRetry (failure: TryFailure, unrecorded = 0): boolean {
    const now = performance.now()
    const context = { method: this.opts.method, body: this.opts.body, tries: this.log.length + unrecorded, elapsedMs: now - this.firstStartedAt }
    const delay = retryDelay(this.settings.retry, failure, context, Math.random())
    if (delay < 0) return false
    this.plan ??= new RetryPlan(this.pool.retryBudget, this.settings.retry.budget)
    return this.plan.take(this.pick(false), delay, now, failure)
  }

  /** Starts the planned retry, after its backoff. */
  private sendNext (): void {
    this.plan!.run((next) => {
      if (this.pool.closed) return this.fail(new PoolClosedError(this.pool.name))
      // The target picked when the try failed may have gone out meanwhile (backoff, a drained body).
      const target = this.pool.canTake(next) ? next : this.pick(false)
      // The failed try's answer was dropped or its error is stale: no target can take the request now.
      if (target === undefined) this.fail(new NoAvailableTargetError(this.pool.name))
      else this.send(target)
    })
  }

  private pick (mayRepeat: boolean): Target | undefined {
    this.now = Date.now()
    const pool = this.pool
    let target = pool.pick(this.balancers, this.key!, this)
    if (target === undefined && (mayRepeat || this.settings.retry.sameTarget) && this.log.length > 0) {
      // No target left that was not tried: the only one that can take traffic may be tried again.
      this.repeating = true
      target = pool.pick(this.balancers, this.key!, this)
      this.repeating = false
    }
    return target
  }

  private send (target: Target): void {
    const attempt = this.attempt = new ProxyTry(this, this.pool, target, this.opts.body, this.settings.clientBodyTimeout)
    let opts = this.opts
    const headers = opts.headers as Record<string, unknown> | null | undefined
    // reply-from addresses the pool by a placeholder origin; the target is told its own host.
    if (!this.hostKept && headers != null && typeof headers.host === 'string') headers.host = target.host
    if (target.basePath !== '') opts = { ...opts, path: target.basePath + opts.path }
    attempt.dispatch(opts, this.log, this.plan?.reason)
  }

  /** Adds the try's record to the log; returns its duration. */
  private record (attempt: ProxyTry, status: number | undefined, error: string | undefined): number {
    const durationMs = performance.now() - attempt.startedAt
    this.tried++
    this.log.push(status === undefined ? { target: attempt.target.url, error, durationMs } : { target: attempt.target.url, status, durationMs })
    return durationMs
  }

  // ---- the end ----

  /** `attempt`'s answer is the one: no retry from here on. The caller hears a response started now, once, not for retried answers. */
  private commit (attempt: ProxyTry): void {
    this.committed = true
    if (attempt.responseStarted) this.handler.onResponseStarted?.()
  }

  private fail (err: Error): void {
    this.settle()
    const listener = this.listener
    this.handler.onError!(listener === undefined ? err : listener.callerError(err))
  }

  private settle (): void {
    if (this.callerLink !== undefined) this.callerLink.request = undefined
    this.plan?.end()
    // Every try has its record by now, a client abort's included. Tries after this request's own
    // are a caller's retry's, which reports them itself.
    this.pool.requestSettled(this.log, this.from, this.from + this.tried)
    this.listener?.settled(this)
  }
}
