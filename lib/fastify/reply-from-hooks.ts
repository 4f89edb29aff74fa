import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyReplyFromHooks } from '@fastify/reply-from'
import { NoAvailableTargetError } from '../errors.js'
import { stripHopByHop } from '../http/hop-by-hop.js'
import { setForwarded } from './forwarded-headers.js'
import { kFromCall, type FromCall } from './from-call.js'

type Headers = Record<string, string | string[] | number | undefined>
export type FromOptions = FastifyReplyFromHooks
type RequestWithCall = FastifyRequest & { [kFromCall]: FromCall }

/**
 * The hooks our reply.from gives reply-from. Ours run first and the caller's (any reply.from option
 * of theirs) after, so theirs see, and may override, what ours set:
 * - request headers: hop-by-hop headers stripped, X-Forwarded-* set, and the call attached for the router;
 * - response headers: hop-by-hop headers stripped;
 * - the answer chosen, or the error: a request that failed over says so on its log lines;
 * - errors: the client gets ours (502/503/504, FST_LOLLY_*), not reply-from's generic 500.
 */
export class ReplyFromHooks {
  /** What reply.from() without options runs with: one object for every call. */
  readonly defaults: FromOptions
  /** Whether requests get X-Forwarded-* (the fast path builds its requests itself). */
  readonly xForwarded: boolean

  constructor (xForwarded: boolean) {
    this.xForwarded = xForwarded
    this.defaults = {
      rewriteRequestHeaders: ((request: FastifyRequest, headers: Headers) => this.requestHeaders(request, headers)) as FromOptions['rewriteRequestHeaders'],
      rewriteHeaders: ((headers: Headers, request: FastifyRequest) => responseHeaders(headers, request)) as FromOptions['rewriteHeaders'],
      onError: onError as FromOptions['onError']
    }
  }

  /** The caller's options with our hooks in front of theirs. */
  withCaller (opts: FromOptions): FromOptions {
    const theirRequestHeaders = opts.rewriteRequestHeaders
    const theirHeaders = opts.rewriteHeaders
    const theirOnError = opts.onError
    return {
      ...opts,
      rewriteRequestHeaders: theirRequestHeaders === undefined
        ? this.defaults.rewriteRequestHeaders
        : (request, headers) => {
            const out = theirRequestHeaders(request, this.prepare(request as FastifyRequest, headers as Headers) as never) as Headers & { [kFromCall]?: FromCall }
            out[kFromCall] = (request as RequestWithCall)[kFromCall]
            return out as never
          },
      rewriteHeaders: theirHeaders === undefined
        ? this.defaults.rewriteHeaders
        : (headers, request) => theirHeaders(responseHeaders(headers as Headers, request as FastifyRequest) as never, request),
      onError: theirOnError === undefined
        ? this.defaults.onError
        : (reply, context) => {
            describeTries((reply.request as RequestWithCall)[kFromCall])
            theirOnError(reply, context)
          }
    }
  }

  private requestHeaders (request: FastifyRequest, headers: Headers): Headers {
    const out = this.prepare(request, headers) as Headers & { [kFromCall]?: FromCall }
    out[kFromCall] = (request as RequestWithCall)[kFromCall]
    return out
  }

  private prepare (request: FastifyRequest, headers: Headers): Headers {
    // Always a new object: the one reply-from hands over is a dictionary (it deleted Connection from
    // its copy), and reply-from copies ours again (Object.assign) before undici walks every key. A
    // fresh object makes both cheap: measured, 1295 -> 480 ns for the copy and walk of typical
    // request headers, the copy included.
    const stripped = stripHopByHop(headers, true)
    if (this.xForwarded) setForwarded(request, stripped)
    return stripped
  }
}

/** The answer is chosen: its headers lose the hop-by-hop ones. */
function responseHeaders (headers: Headers, request: FastifyRequest): Headers {
  describeTries((request as RequestWithCall)[kFromCall])
  return stripHopByHop(headers)
}

/** reply-from wraps every dispatcher error in its own; the client gets ours (502/503/504, FST_LOLLY_*). */
export function onError (reply: FastifyReply, { error }: { error: Error & { cause?: unknown } }): void {
  describeTries((reply.request as RequestWithCall)[kFromCall])
  // The client went away: nobody to answer, and not a server error to log.
  if (reply.raw.destroyed) return
  const cause = error.cause as (Error & { code?: string }) | undefined
  if (cause !== undefined && typeof cause.code === 'string' && cause.code.startsWith('FST_LOLLY_')) {
    if (cause instanceof NoAvailableTargetError) reply.header('retry-after', '1')
    reply.send(cause)
    return
  }
  reply.send(error)
}

/**
 * A request that failed over gets its tries on its log lines: a child logger, made only then,
 * replaces the request's, so a request that went through on its first try costs nothing and Fastify's
 * "request completed" line for one that did not says which targets were tried and why.
 */
export function describeTries (call: FromCall): void {
  const tries = call.log
  if (tries.length < 2) return
  const reply = call.reply
  const log = reply.log.child({ lolly: { upstream: call.destination.pool.name, tries } })
  reply.log = log
  reply.request.log = log
}
