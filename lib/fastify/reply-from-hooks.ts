import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyReplyFromHooks } from '@fastify/reply-from'
import { NoAvailableTargetError } from '../errors.js'
import { stripHopByHop } from '../http/hop-by-hop.js'
import { withCallerRetries } from './caller-retries.js'
import { setForwarded } from './forwarded-headers.js'
import { kFromCall, kLollyError, type FromCall } from './from-call.js'
import { PLACEHOLDER_BASE } from './reply-from-host.js'

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
    const theirUpstream = opts.getUpstream
    return {
      ...opts,
      retryDelay: withCallerRetries(opts),
      getUpstream: theirUpstream === undefined ? undefined : (request) => chooseUpstream(request as RequestWithCall, theirUpstream),
      rewriteRequestHeaders: theirRequestHeaders === undefined
        ? this.defaults.rewriteRequestHeaders
        : (request, headers) => this.callerRequestHeaders(request as RequestWithCall, headers as Headers, theirRequestHeaders) as never,
      rewriteHeaders: theirHeaders === undefined
        ? this.defaults.rewriteHeaders
        : (headers, request) => theirHeaders(responseHeaders(headers as Headers, request as FastifyRequest) as never, request),
      onError: theirOnError === undefined
        ? this.defaults.onError
        : (reply, context) => {
            describeTries((reply.request as RequestWithCall)[kFromCall])
            closeIfBodyUnread(reply)
            theirOnError(reply, callerContext(context as ErrorContext))
          }
    }
  }

  /**
   * The caller's rewriteRequestHeaders sees the headers as reply-from alone would give them: Host is
   * the host of the target the request goes to first. A Host it sets of its own is sent as set, to
   * every target the request may fail over to.
   */
  private callerRequestHeaders (request: RequestWithCall, headers: Headers, theirs: NonNullable<FromOptions['rewriteRequestHeaders']>): Headers {
    const call = request[kFromCall]
    const prepared = this.prepare(request, headers)
    const target = call.firstTarget()
    if (target !== undefined) prepared.host = target.host
    const host = prepared.host
    const out = theirs(request, prepared as never) as Headers & { [kFromCall]?: FromCall }
    if (out.host !== host) call.keepHostHeader()
    out[kFromCall] = call
    return out
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

/** The answer is chosen: its headers lose the hop-by-hop ones, and gain the affinity cookie. */
function responseHeaders (headers: Headers, request: FastifyRequest): Headers {
  const call = (request as RequestWithCall)[kFromCall]
  describeTries(call)
  const out = stripHopByHop(headers)
  call.addAffinityCookie(out)
  return out
}

type ErrorContext = { error: Error & { cause?: unknown } }
type LollyTagged = Error & { code?: string, [kLollyError]?: Error }

/**
 * The client gets ours (502/503/504, FST_LOLLY_*), not reply-from's wrapper: reply-from wraps every
 * dispatcher error in an error of its own, whose cause is undici's error (ours on it, see
 * FromCall.callerError) or one of ours.
 */
export function onError (reply: FastifyReply, { error }: ErrorContext): void {
  describeTries((reply.request as RequestWithCall)[kFromCall])
  // The client went away: nobody to answer, and not a server error to log.
  if (reply.raw.destroyed) return
  closeIfBodyUnread(reply)
  const cause = error.cause as LollyTagged | undefined
  const ours = cause?.[kLollyError] ?? (isLollyError(cause) ? cause : undefined)
  if (ours === undefined) {
    reply.send(error)
    return
  }
  if (ours instanceof NoAvailableTargetError) reply.header('retry-after', '1')
  reply.send(ours)
}

/**
 * An error answer to a request whose body was not read to its end (the client stalled it: 408, or a
 * target failed while it streamed) closes the connection after it, as the fast path does for
 * answers: the rest of the body would otherwise be read as the next request, or, from a stalled
 * client, never come and hold the connection.
 */
function closeIfBodyUnread (reply: { request: { raw: { complete: boolean } }, header (name: string, value: string): unknown }): void {
  if (!reply.request.raw.complete) reply.header('connection', 'close')
}

/**
 * What a caller's onError gets: reply-from's error, as reply-from alone would give it (504 for a
 * timeout, its socket error for a reset, ...). An error of the pool's own, which reply-from has no
 * word for (no target can take the request, the pool closed), reaches it as ours rather than inside
 * reply-from's generic 500.
 */
export function callerContext (context: ErrorContext): ErrorContext {
  const cause = context.error.cause as LollyTagged | undefined
  return isLollyError(cause) ? { error: cause } : context
}

/** An error of fastify-lolly's own (FST_LOLLY_*). */
export function isLollyError (err: LollyTagged | undefined): err is LollyTagged {
  return err !== undefined && typeof err.code === 'string' && err.code.startsWith('FST_LOLLY_')
}

/**
 * A caller's getUpstream sees the URL of the target the request goes to first (the balancer's pick) as
 * reply-from's `base`; what it returns must be one of the pool's target URLs, and the request goes
 * there first (health still decides: a target that cannot take traffic is passed over). reply-from
 * itself keeps addressing the pool, so a target's base path is added as for any other request.
 */
function chooseUpstream (request: RequestWithCall, theirs: NonNullable<FromOptions['getUpstream']>): string {
  const call = request[kFromCall]
  const target = call.firstTarget()
  if (target === undefined) throw new NoAvailableTargetError(call.destination.pool.name)
  const chosen: unknown = theirs(request, target.url)
  if (chosen !== target.url) call.sendFirstTo(chosen)
  return PLACEHOLDER_BASE
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
