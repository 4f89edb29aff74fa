import { performance } from 'node:perf_hooks'
import type { Span } from '@opentelemetry/api'
import type { Dispatcher } from 'undici'
import type { TryRecord } from '../pool/pool-events.js'
import type { Target } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import type { WaitingTry } from '../pool/waiting-tries.js'
import { endTrySpan, startTrySpan } from '../tracing/try-span.js'
import { ClientBodyTimer } from './client-body-timer.js'

export type Abort = (reason?: Error) => void

// A retried answer's body is read to its end so its keep-alive connection is kept; past this many
// bytes the connection is cut instead: waiting for a large error page delays the retry.
const MAX_DISCARD_BYTES = 64 * 1024

/** What a try reports to the request it belongs to. */
export interface TryOwner {
  tryConnected (attempt: ProxyTry, context: object | undefined): void
  tryHeaders (attempt: ProxyTry, statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string | undefined): boolean
  tryData (chunk: Buffer): boolean
  tryComplete (attempt: ProxyTry, trailers: string[] | null): void
  tryUpgrade (attempt: ProxyTry, statusCode: number, rawHeaders: unknown, socket: unknown): void
  tryFailed (attempt: ProxyTry, err: Error): void
  /** The try's target went out of service for its health before the answer's headers came. */
  tryTargetDown (attempt: ProxyTry): void
}

/**
 * One try of a request on one target: the undici handler of that request alone (the classic API,
 * the one undici's Client runs internally, so undici wraps nothing on the way). It holds the target's
 * in-flight slot from its start to its end, exactly once, and passes what undici says to its owner
 * until it ends or the owner lets go of it: a late callback of an old try reaches nobody.
 */
export class ProxyTry implements Dispatcher.DispatchHandler, WaitingTry {
  readonly target: Target
  prevWaiting: WaitingTry | null = null
  nextWaiting: WaitingTry | null = null
  readonly startedAt = performance.now()
  private readonly pool: UpstreamPool
  private owner: TryOwner | null
  private abortRequest: Abort | undefined = undefined
  /** The answer is a retried one: its body is read and dropped, then the owner moves on. */
  private discarding = false
  private discardedBytes = 0
  private started = false
  /** Times a request body streamed from the client (clientBodyTimeout); undefined for any other body. */
  private readonly bodyTimer: ClientBodyTimer | undefined
  /** Its client span when traced (lib/tracing), and the status of its answer for it (0: none yet). */
  private span: Span | undefined = undefined
  private statusCode = 0

  constructor (owner: TryOwner, pool: UpstreamPool, target: Target, body?: unknown, clientBodyTimeout = 0) {
    this.owner = owner
    this.pool = pool
    this.target = target
    this.bodyTimer = ClientBodyTimer.for(this, body, clientBodyTimeout)
    pool.tryStarted(target)
    pool.waitingTries.add(this)
  }

  /** undici opened the connection and started sending the request (its onConnect ran). */
  get connected (): boolean {
    return this.abortRequest !== undefined
  }

  /** undici began to receive the answer (onResponseStarted): the caller hears of it if this answer is the one. */
  get responseStarted (): boolean {
    return this.started
  }

  /** Whether the answer being read is a retried one, dropped. */
  get discarded (): boolean {
    return this.discarding
  }

  /** Drop this answer's body (up to 64 KiB, then cut the connection); the owner hears when it ends. */
  discard (): void {
    this.discarding = true
  }

  /** Cuts the try now; undici reports it (onError) before this returns. Only while connected. */
  abort (reason: Error): void {
    this.abortRequest!(reason)
  }

  /**
   * Sends the try to its target, after the tries of its call in `log` (the last of which moved on
   * for `retryReason`): traced only while an OpenTelemetry SDK is registered (see LollyTracer#active).
   */
  dispatch (opts: Dispatcher.DispatchOptions, log: readonly TryRecord[], retryReason: string | undefined): void {
    const tracer = this.pool.tracer
    if (tracer === null || !tracer.active) this.target.dispatcher.dispatch(opts, this)
    else {
      const parent = tracer.parentOf(log)
      tracer.dispatch(this.target.dispatcher, opts, this, this.span = startTrySpan(tracer, parent, this.target, opts, log.length, retryReason), parent)
    }
  }

  /** The owner no longer waits for this try (it has not connected), for `reason`: its slot is given back now. */
  letGo (reason: string): void {
    this.end(reason)
  }

  onConnect (abort: Abort, context?: object): void {
    const owner = this.owner
    if (owner === null) {
      // The try was let go of before it connected: nobody waits for it.
      abort(new Error('the request let go of this try'))
      return
    }
    this.abortRequest = abort
    this.bodyTimer?.start()
    owner.tryConnected(this, context)
  }

  onBodySent (): void {
    this.bodyTimer?.read()
  }

  onRequestSent (): void {
    this.bodyTimer?.stop()
  }

  onResponseStarted (): void {
    this.started = true
  }

  targetDown (): void {
    this.owner!.tryTargetDown(this)
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string): boolean {
    // An answer: its own timeouts bound the try from here, whether or not the target reads the rest of the body.
    if (statusCode >= 200) {
      this.bodyTimer?.stop()
      this.statusCode = statusCode
    }
    // The target answers: whatever its health says now, this answer is on its way.
    this.pool.waitingTries.remove(this)
    return this.owner!.tryHeaders(this, statusCode, rawHeaders, resume, statusMessage)
  }

  onData (chunk: Buffer): boolean {
    if (this.discarding) {
      this.discardedBytes += chunk.length
      if (this.discardedBytes > MAX_DISCARD_BYTES) this.abortRequest!(new Error('discarded response body too large'))
      return true
    }
    return this.owner!.tryData(chunk)
  }

  onComplete (trailers: string[] | null): void {
    this.end()!.tryComplete(this, trailers)
  }

  onUpgrade (statusCode: number, rawHeaders: unknown, socket: unknown): void {
    this.statusCode = statusCode
    // The owner first, then the slot: a tunnel takes a slot of its own before this one is given
    // back, so the target never looks idle in between (a drain or removal waiting on it would end).
    try {
      this.owner!.tryUpgrade(this, statusCode, rawHeaders, socket)
    } finally {
      this.end()
    }
  }

  onError (err: Error): void {
    // A try that was let go of, cut when it connected: nobody to tell.
    this.end(err)?.tryFailed(this, err)
  }

  /** Gives the target's slot back, once; returns the owner to report to (null if the try was let go of). */
  private end (failure?: Error | string): TryOwner | null {
    const owner = this.owner
    if (owner !== null) {
      this.owner = null
      if (this.span !== undefined) endTrySpan(this.span, this.statusCode, failure)
      this.bodyTimer?.stop()
      this.pool.waitingTries.remove(this)
      this.pool.tryEnded(this.target)
    }
    return owner
  }
}
