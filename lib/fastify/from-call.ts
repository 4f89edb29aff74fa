import type { FastifyReply } from 'fastify'
import { errors as undiciErrors, type Dispatcher } from 'undici'
import type { TryRecord } from '../pool/pool-events.js'
import type { Abortable, Destination, SettleListener } from '../proxy/destination.js'
import { ProxiedRequest } from '../proxy/proxied-request.js'

/** Where the call rides along: on the Fastify request (a declared field) and on the raw response. */
export const kFromCall = Symbol('fastify-lolly.from-call')

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
    const request = new ProxiedRequest(this.destination, this.log, this.reply.request, this)
    if (this.current !== undefined) (this.older ??= []).push(this.current)
    this.current = request
    request.start(opts, handler)
  }

  settled (request: Abortable): void {
    if (this.current === request) this.current = undefined
    else if (this.older !== undefined) this.older = this.older.filter((other) => other !== request)
  }

  /** The response closed: sent whole, or cut because the client went away (`complete` false). */
  responseClosed (complete: boolean): void {
    // Answers a caller's retry replaced, which nobody reads: a large body would otherwise hold its
    // connection and its target's in-flight slot for good, since undici runs no bodyTimeout while it
    // waits for a reader.
    if (this.older !== undefined) for (const request of this.older) request.abort()
    if (complete) return
    this.clientLeft = true
    this.current?.abort()
  }
}
