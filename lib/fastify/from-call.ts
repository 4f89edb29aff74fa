import type { FastifyReply } from 'fastify'
import { errors as undiciErrors, type Dispatcher } from 'undici'
import { BadGatewayError, GatewayTimeoutError } from '../errors.js'
import type { TryRecord } from '../pool/pool-events.js'
import type { Target } from '../pool/target.js'
import type { Abortable, Destination, SettleListener } from '../proxy/destination.js'
import { ProxiedRequest } from '../proxy/proxied-request.js'
import { targetNamed } from './pool-urls.js'

/** Where the call rides along: on the Fastify request (a declared field) and on the raw response. */
export const kFromCall = Symbol('fastify-lolly.from-call')

/** On an error of undici's that reply-from gets: the error fastify-lolly answers the client with. */
export const kLollyError = Symbol('fastify-lolly.error')

/**
 * One call of reply.from(): the route's destination, the log its tries go to (what request.lolly
 * shows), and the requests it sent, which the client's leaving must stop. reply-from may send the
 * request more than once (a caller's `retryDelay`): each send is a ProxiedRequest of its own,
 * sharing the log; one may start while the answer it replaces is still streaming.
 */
export class FromCall implements SettleListener {
  readonly destination: Destination
  readonly reply: FastifyReply
  readonly log: TryRecord[] = []
  /** The newest request not settled yet. */
  private current: Abortable | undefined = undefined
  /** Older ones still running: an answer still streaming while a caller's retry started. */
  private older: Abortable[] | undefined = undefined
  private clientLeft = false
  /** The first request, made before reply-from sends it when a caller's hook must see its target. */
  private prepared: ProxiedRequest | undefined = undefined
  /** The caller's rewriteRequestHeaders set the Host header: every request sends it as set. */
  private hostKept = false
  /** The target the request's affinity cookie names (a valid one, of a target still in the pool). */
  private stuckTo: string | undefined = undefined

  constructor (destination: Destination, reply: FastifyReply) {
    this.destination = destination
    this.reply = reply
  }

  /** reply-from sends the request (through the router it was given): `handler` is reply-from's. */
  send (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    if (this.clientLeft) {
      // A caller's retry after the client went away: nobody to answer.
      handler.onError!(new undiciErrors.RequestAbortedError())
      return
    }
    const request = this.prepared ?? this.newRequest()
    this.prepared = undefined
    if (this.hostKept) request.keepHostHeader()
    if (this.current !== undefined) (this.older ??= []).push(this.current)
    this.current = request
    request.start(opts, handler)
  }

  /**
   * The target the first request goes to, picked now (once) so that a caller's getUpstream and
   * rewriteRequestHeaders see it; when none can take the request, the pool's first target stands in
   * (the request then fails with 503 when sent). Undefined only for a pool with no targets at all.
   */
  firstTarget (): Target | undefined {
    this.prepared ??= this.newRequest()
    return this.prepared.chooseFirst() ?? this.destination.pool.targets[0]
  }

  /** A caller's getUpstream named `value`: the first request goes to that target of the pool (throws for anything else). */
  sendFirstTo (value: unknown): void {
    const target = targetNamed(this.destination.pool, value)
    this.prepared ??= this.newRequest()
    this.prepared.preferFirst(target)
  }

  /**
   * Reads the route's affinity cookie from the request: the first request goes to the target it
   * names while that target can take it (ProxiedRequest#start checks), else where the balancer says.
   */
  stick (cookieHeader: string | string[] | undefined): void {
    const affinity = this.destination.settings.affinity!
    const url = affinity.find(cookieHeader, Date.now())
    if (url === undefined) return
    const pool = this.destination.pool
    const target = pool.target(url)!
    // A backup's cookie holds only while the tiers before it cannot take traffic: once the
    // primaries are back, its clients go back to them (and get a cookie saying so).
    if (!pool.inFirstTier(target)) return
    if (!affinity.renew) this.stuckTo = url
    this.prepared ??= this.newRequest()
    this.prepared.preferFirst(target)
  }

  /**
   * Adds to an answer's headers (ours to change) the Set-Cookie it carries under session affinity:
   * one naming the target that answered (the last try), unless the request's cookie already did. So
   * a new client, one whose target is dead or full, and one a failover moved, all get one.
   */
  addAffinityCookie (headers: Record<string, unknown>): void {
    const affinity = this.destination.settings.affinity
    if (affinity === null) return
    const tries = this.log
    const answered = tries[tries.length - 1].target
    if (answered === this.stuckTo) return
    const cookie = affinity.issue(answered, Date.now())
    // After the target's own cookies: never instead of them.
    const had = headers['set-cookie']
    headers['set-cookie'] = had === undefined ? cookie : Array.isArray(had) ? [...had, cookie] : [had, cookie]
  }

  /** The caller's rewriteRequestHeaders set a Host header of its own. */
  keepHostHeader (): void {
    this.hostKept = true
  }

  /**
   * reply-from and a caller's hooks (`onError`, `retryDelay`) get undici's own error for a try that
   * failed without an answer, as with reply-from alone (they switch on `UND_ERR_SOCKET`, say), with
   * ours (502 or 504) on it under kLollyError for the default onError. Pool-level errors (no target,
   * pool closed) have no undici error: they get ours.
   */
  callerError (err: Error): Error {
    const cause = err.cause
    if ((err instanceof BadGatewayError || err instanceof GatewayTimeoutError) && cause instanceof Error) {
      // undici may fail several queued requests of one connection with the same error object: each
      // tags it with an error of the same text (same target, same cause) before its own onError runs.
      ;(cause as Error & { [kLollyError]?: Error })[kLollyError] = err
      return cause
    }
    return err
  }

  settled (request: Abortable): void {
    if (this.current === request) this.current = undefined
    else if (this.older !== undefined) this.older = this.older.filter((other) => other !== request)
  }

  /** The response closed: sent whole, or cut because the client went away (`complete` false). */
  responseClosed (complete: boolean): void {
    // Answers nobody reads any more: those a caller's retry replaced, and, once the response is
    // complete, one still running (an onSend hook replaced the body, or an onResponse never read
    // it). A large body would otherwise hold its connection and its target's in-flight slot for
    // good, since undici runs no bodyTimeout while it waits for a reader. An answer that was read
    // settled before the response could end, so nothing read is cut.
    if (this.older !== undefined) for (const request of this.older) request.abort()
    if (!complete) this.clientLeft = true
    this.current?.abort()
  }

  private newRequest (): ProxiedRequest {
    return new ProxiedRequest(this.destination, this.log, this.reply.request, this)
  }
}
