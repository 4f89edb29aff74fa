import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom, { type FastifyReplyFromHooks, type FastifyReplyFromOptions } from '@fastify/reply-from'
import type { Dispatcher } from 'undici'
import { BadRequestTargetError, NoAvailableTargetError } from './errors.js'
import { setForwarded, stripHopByHop } from './forwarded-headers.js'
import { ProxyCall } from './proxy-call.js'
import { kRouteBinding, type RouteBinding } from './route-binding.js'

type Headers = Record<string, string | string[] | number | undefined>
type ReplyFromImpl = (this: FastifyReply, source?: string, opts?: FastifyReplyFromHooks) => FastifyReply
export type FromOptions = FastifyReplyFromHooks

/** Symbol key under which the ProxyCall rides along in the headers reply-from hands to the dispatcher. */
export const kProxyCall = Symbol('fastify-lolly.proxy-call')

/**
 * reply-from is addressed at a placeholder origin in a reserved TLD (RFC 2606): reply-from's own
 * check that a source stays inside its base then rejects absolute-form targets and `//host` paths,
 * and if anything ever leaked the name could not resolve. The pool replaces it with the target.
 */
export const PLACEHOLDER_BASE = 'http://upstream.fastify-lolly.invalid'

/**
 * Runs @fastify/reply-from's plugin against a facade of `app` that keeps its `reply.from`
 * implementation for us instead of decorating with it, so that our `reply.from` can wrap it.
 */
export async function hostReplyFrom (app: FastifyInstance, dispatcher: Dispatcher): Promise<ReplyFromImpl> {
  let captured: ReplyFromImpl | undefined
  const facade = Object.create(app, {
    decorateReply: {
      value (name: string, fn: ReplyFromImpl) {
        if (name === 'from') captured = fn
        return facade
      }
    }
  }) as FastifyInstance
  const options: FastifyReplyFromOptions = {
    base: PLACEHOLDER_BASE,
    undici: dispatcher as FastifyReplyFromOptions['undici'],
    // Failover is the pool's job: reply-from's own retries would go back to the same placeholder and
    // re-send GETs that answered 503 up to ten times, with Retry-After read as milliseconds.
    retryMethods: [],
    // The pool logs state transitions; two info lines per proxied request would drown them.
    disableRequestLogging: true
  }
  await new Promise<void>((resolve, reject) => {
    (replyFrom as unknown as (i: FastifyInstance, o: unknown, next: (err?: Error) => void) => void)(
      facade, options, (err) => {
        // reply-from fails its registration only for http2 without a base; the options above are fixed.
        /* c8 ignore next */
        if (err !== undefined) reject(err)
        resolve()
      })
  })
  return captured!
}

export interface FromSettings {
  xForwarded: boolean
}

/** Builds our `reply.from`: reply-from's, with the pool, headers and error mapping wired in. */
export function buildFrom (original: ReplyFromImpl, settings: FromSettings, fallback: RouteBinding) {
  const { xForwarded } = settings

  function prepareRequestHeaders (request: FastifyRequest, headers: Headers): Headers {
    // Always a new object: the one reply-from hands over is a dictionary (it deleted Connection from
    // its copy), and reply-from copies ours again (Object.assign) before undici walks every key. A
    // fresh object makes both cheap: measured, 1295 -> 480 ns for the copy and walk of typical
    // request headers, the copy included.
    const stripped = stripHopByHop(headers, true)
    if (xForwarded) setForwarded(request, stripped)
    return stripped
  }

  function rewriteRequestHeaders (request: FastifyRequest, headers: Headers): Headers {
    const out = prepareRequestHeaders(request, headers) as Headers & { [kProxyCall]?: unknown }
    out[kProxyCall] = request.lolly
    return out
  }

  function rewriteHeaders (headers: Headers): Headers {
    return stripHopByHop(headers)
  }

  const defaults: FromOptions = {
    rewriteRequestHeaders: rewriteRequestHeaders as FromOptions['rewriteRequestHeaders'],
    rewriteHeaders: rewriteHeaders as FromOptions['rewriteHeaders'],
    onError: sendProxyError as FromOptions['onError']
  }

  /** Keeps the caller's hooks working: theirs run after ours, and may override what we set. */
  function withCallerHooks (opts: FromOptions): FromOptions {
    const theirRequestHeaders = opts.rewriteRequestHeaders
    const theirHeaders = opts.rewriteHeaders
    return {
      ...opts,
      rewriteRequestHeaders: theirRequestHeaders === undefined
        ? defaults.rewriteRequestHeaders
        : (request, headers) => {
            const out = theirRequestHeaders(request, prepareRequestHeaders(request as FastifyRequest, headers as Headers) as never) as Headers & { [kProxyCall]?: unknown }
            out[kProxyCall] = request.lolly
            return out as never
          },
      rewriteHeaders: theirHeaders === undefined
        ? defaults.rewriteHeaders
        : (headers, request) => theirHeaders(stripHopByHop(headers as Headers) as never, request),
      onError: opts.onError ?? defaults.onError
    }
  }

  return function from (this: FastifyReply, source?: string, opts?: FromOptions): FastifyReply {
    const request = this.request
    const binding = (request.routeOptions.config as { [kRouteBinding]?: RouteBinding })[kRouteBinding] ?? fallback
    const call = new ProxyCall(binding.pool, binding.balancers, request, binding, this)
    request.lolly = call
    const res = this.raw as ResponseWithCall
    res[kProxyCall] = call
    res.on('close', abortOnClientClose)
    try {
      return original.call(this, source, opts === undefined ? defaults : withCallerHooks(opts))
    } catch (err) {
      // reply-from refuses sources that would leave the base (absolute-form targets, `//host`), and
      // throws decodeURIComponent's URIError for malformed percent-encoding the router let through
      // (it ignores the fragment: `/x#%zz`).
      if ((err as Error).message === 'source must be a relative path string' || (err as { code?: string }).code === 'ERR_INVALID_URL' || err instanceof URIError) {
        return this.send(new BadRequestTargetError(JSON.stringify(source ?? request.url)))
      }
      throw err
    }
  }
}

type ResponseWithCall = ServerResponse & { [kProxyCall]?: ProxyCall }

/**
 * The response closed before it was complete: the client went away. The upstream request stops, its
 * in-flight slot is given back and no target is blamed. One listener on the response, which lives
 * as long as the request, so nothing accumulates on a keep-alive connection; the function is shared
 * and finds the call on the response, so no closure is made per request.
 */
function abortOnClientClose (this: ResponseWithCall): void {
  if (!this.writableFinished) this[kProxyCall]!.abort()
}

/** reply-from wraps every dispatcher error in its own; the client gets ours (502/503/504, FST_LOLLY_*). */
function sendProxyError (reply: FastifyReply<any>, { error }: { error: Error & { cause?: unknown } }): void {
  // The client went away (see abortOnClientClose): nobody to answer, and not a server error to log.
  if (reply.raw.destroyed) return
  const cause = error.cause as (Error & { code?: string }) | undefined
  if (cause !== undefined && typeof cause.code === 'string' && cause.code.startsWith('FST_LOLLY_')) {
    if (cause instanceof NoAvailableTargetError) reply.header('retry-after', '1')
    reply.send(cause)
    return
  }
  reply.send(error)
}
