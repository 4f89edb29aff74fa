import type { FastifyReply } from 'fastify'
import { util, type Dispatcher } from 'undici'
import { parseWithoutHopByHop, stripHopByHop } from '../http/hop-by-hop.js'
import { toProxyError } from '../proxy/upstream-errors.js'
import type { FromCall } from './from-call.js'
import { BadGatewayError, wrapError } from './reply-from-errors.js'
import { callerContext, describeTries, onError as lollyOnError, type FromOptions } from './reply-from-hooks.js'
import { UpstreamBody } from './upstream-body.js'

type Headers = Record<string, string | string[] | number | undefined>
type Abort = (reason?: Error) => void

/**
 * Bodies of a known length up to this are collected and handed to reply.send() as one Buffer:
 * Fastify then writes status, headers and body in one write, with no stream, pipe or end-of-stream
 * machinery on either side. Larger ones, and those of unknown length, stream with backpressure.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024

const EMPTY = Buffer.alloc(0)

// Where the answer is.
const WAITING = 0 // no answer yet (1xx aside)
const BUFFERING = 1 // a small body, collected for reply.send(buffer)
const STREAMING = 2 // a body streamed through an UpstreamBody
const DROPPED = 3 // nobody reads it: the client left, or reply-from would have answered with an error

/**
 * The caller's handler of a fast-path reply.from() (see fast-request.ts), in the classic form the
 * pool's ProxiedRequest speaks: it gets the one answer ProxiedRequest committed to (failover, retries
 * and passive health all happen before) and writes it into the Fastify reply as reply-from would:
 * headers less the hop-by-hop ones through the caller's rewriteHeaders, `Connection: close` when
 * the request body was not read whole, the status, then the body through reply.send(), so onSend
 * hooks, onResponse hooks and logging see what they saw. What replaces reply-from's request(): one
 * object, no Readable for a small body, no URL, no closures.
 */
export class FastAnswer implements Dispatcher.DispatchHandler {
  readonly #call: FromCall
  readonly #opts: FromOptions | undefined
  /** The method sent upstream: a HEAD answer's Content-Length is no body's. */
  readonly #method: string
  #abort: Abort | undefined = undefined
  #state = WAITING
  #body: UpstreamBody | undefined = undefined
  #chunks: Buffer[] | undefined = undefined
  #length = 0
  /** A small body's headers, put on the reply with it once it is whole. */
  #sent: Headers | undefined = undefined

  constructor (call: FromCall, opts: FromOptions | undefined, method: string) {
    this.#call = call
    this.#opts = opts
    this.#method = method
  }

  onConnect (abort: Abort): void {
    this.#abort = abort
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx: reply-from's undici request() has no onInfo, so they go nowhere.
    if (statusCode < 200) return true
    const call = this.#call
    const reply = call.reply
    const request = reply.request
    describeTries(call)
    const opts = this.#opts
    const theirs = opts?.rewriteHeaders
    const onResponse = opts?.onResponse
    // With no caller's hook to see the answer's own headers, they are parsed without the hop-by-hop
    // ones in one pass (measured: parse, strip and copy were 2.2 % of the proxy's CPU).
    let headers: Headers
    let out: Headers
    if (theirs === undefined && onResponse === undefined) {
      headers = out = parseWithoutHopByHop(rawHeaders)
    } else {
      headers = util.parseHeaders(rawHeaders) as Headers
      out = stripHopByHop(headers)
      if (theirs !== undefined) out = theirs(out as never, request as never) as Headers
    }
    call.addAffinityCookie(out)
    const req = request.raw
    // A small body goes on the reply with its headers once it is whole (onComplete): if it breaks off,
    // nothing of it was put on the reply, and the 502 instead carries what the route set before.
    const buffered = onResponse === undefined && this.#fits(statusCode, headers, out, req.method)
    if (buffered) this.#sent = out
    else putHeaders(reply, out)
    // An HTTP/1 connection cannot be reused until its request body has been consumed.
    if (!req.complete) reply.header('connection', 'close')
    try {
      reply.code(statusCode)
    } catch (err) {
      // Outside 100-599 (undici reads any three digits): reply-from answers its own 502.
      this.#state = DROPPED
      this.#fail(reply, new BadGatewayError())
      request.log.warn(err, 'response has invalid status code')
      return true
    }
    if (req.aborted) {
      // The client already left before the answer came: stop it, as reply-from destroys its body.
      this.#state = DROPPED
      this.#abort!()
      return true
    }
    if (onResponse !== undefined) {
      const body = this.#stream(resume)
      delete headers['transfer-encoding']
      onResponse(request as never, reply as never, { statusCode, headers, stream: body } as never)
      return true
    }
    if (buffered) {
      this.#state = BUFFERING
      this.#chunks = []
      return true
    }
    reply.send(this.#stream(resume))
    return true
  }

  onData (chunk: Buffer): boolean {
    const state = this.#state
    if (state === BUFFERING) {
      this.#chunks!.push(chunk)
      this.#length += chunk.length
      return true
    }
    if (state === STREAMING) return this.#body!.push(chunk)
    return true
  }

  onComplete (): void {
    const state = this.#state
    if (state === BUFFERING) {
      const chunks = this.#chunks!
      this.#chunks = undefined
      const reply = this.#call.reply
      putHeaders(reply, this.#sent!)
      reply.send(chunks.length === 1 ? chunks[0] : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, this.#length))
    } else if (state === STREAMING) {
      this.#body!.complete()
    }
  }

  onError (err: Error): void {
    const state = this.#state
    if (state === STREAMING) return this.#body!.fail(err)
    if (state === DROPPED) return
    const reply = this.#call.reply
    reply.request.log.warn(err, 'response errored')
    if (state === BUFFERING) {
      // A small body broke off before a byte of the answer went out, or onto the reply: the client
      // gets a clean 502 (504 for a body timeout) where reply-from sends the headers and a cut body.
      this.#state = DROPPED
      this.#chunks = undefined
      if (reply.raw.destroyed) return
      const log = this.#call.log
      reply.send(toProxyError(err, log[log.length - 1].target))
      return
    }
    if (!reply.sent) this.#fail(reply, wrapError(err))
  }

  /** reply-from's onError step: the caller's onError, else ours (reply-from-hooks.ts). */
  #fail (reply: FastifyReply, error: Error): void {
    const theirs = this.#opts?.onError
    if (theirs === undefined) return lollyOnError(reply, { error })
    describeTries(this.#call)
    theirs(reply as never, callerContext({ error }))
  }

  #stream (resume: () => void): UpstreamBody {
    this.#state = STREAMING
    return (this.#body = new UpstreamBody(resume, this.#abort))
  }

  /**
   * Whether the body is small and reply.send(buffer) sends what reply-from's stream would have:
   * a Content-Length from the upstream (llhttp enforces it) that the caller's hook left alone, and a
   * Content-Type (else Fastify would add application/octet-stream). Not for HEAD, 204 or 304, where
   * Content-Length describes no body and Fastify would rewrite it.
   */
  #fits (statusCode: number, headers: Headers, out: Headers, clientMethod: string | undefined): boolean {
    const length = headers['content-length']
    if (typeof length !== 'string' || out['content-length'] !== length || out['content-type'] === undefined) return false
    if (statusCode === 204 || statusCode === 304 || this.#method === 'HEAD' || clientMethod === 'HEAD') return false
    return Number(length) <= MAX_BUFFERED_BYTES
  }
}

/** The answer's headers onto the reply (HTTP/2 pseudo-headers, `:status` and the like, skipped). */
function putHeaders (reply: FastifyReply, headers: Headers): void {
  for (const name in headers) {
    if (name.charCodeAt(0) !== 58) reply.header(name, headers[name])
  }
}
