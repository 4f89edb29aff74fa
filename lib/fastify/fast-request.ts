import type { FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { FromCall } from './from-call.js'
import { HOP_BY_HOP } from '../http/header-names.js'
import { connectionTokens, listedNames } from '../http/hop-by-hop.js'
import { setForwarded } from './forwarded-headers.js'
import { PLACEHOLDER_BASE, PLACEHOLDER_HOST } from './reply-from-host.js'
import type { FromOptions } from './reply-from-hooks.js'

type Headers = Record<string, string | string[] | number | undefined>

/**
 * A path whose meaning URL parsing would not change: no percent-encoding, dot segment, backslash,
 * fragment, query, space or non-ASCII, and not `//host`. Only for such a path does the fast path
 * build the request itself; reply-from's buildURL (the base check, its `..` check on the decoded
 * path, URL normalisation, its errors) stays the judge of every other one.
 */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/

/**
 * What a call of reply.from() sends upstream when the fast path takes it: reply-from's request,
 * built as reply-from builds it, for the calls whose building is simple. `path` (the request target)
 * is undefined when the call is not one of those, and reply-from runs it as before:
 * - a source or request URL that is not a plain path (see PLAIN_PATH);
 * - a request body, the client's (Fastify parsed it) or the `body` option: reply-from's content-type
 *   parsing and JSON re-encoding are its own;
 * - `getUpstream`, `retryDelay` or `retriesCount` (a caller's retries are reply-from's), a
 *   `queryString` object (reply-from's own query-string encoder);
 * - HTTP/2 clients (reply-from filters their pseudo-headers).
 */
export function fastPath (request: FastifyRequest, source: string | undefined, opts: FromOptions | undefined): string | undefined {
  const req = request.raw
  if (req.httpVersionMajor === 2 || request.body) return undefined
  const url = req.url!
  const queryIndex = url.indexOf('?')
  let qs = queryIndex > 0 ? url.slice(queryIndex) : ''
  let path: string
  if (source === undefined || source === '') {
    path = queryIndex >= 0 ? url.slice(0, queryIndex) : url
  } else {
    path = source
  }
  if (!PLAIN_PATH.test(path) || path.includes('/.') || path.includes('..')) return undefined
  if (opts !== undefined) {
    if (opts.body !== undefined || opts.getUpstream !== undefined || opts.retryDelay !== undefined || Boolean(opts.retriesCount)) return undefined
    const queryString = opts.queryString
    if (typeof queryString === 'function') {
      // As reply-from calls it: the source's own query (none, for a plain path) and the request URL.
      const out = queryString('', url, request as never)
      qs = out ? '?' + out : ''
    } else if (queryString !== undefined) {
      return undefined
    }
  }
  return path + qs
}

/**
 * The request reply-from would send for `path`: the client's headers less the hop-by-hop ones and
 * those its Connection header names (reply-from deletes those, X-Forwarded-* included, before any
 * hook runs), X-Forwarded-* set, then the caller's rewriteRequestHeaders. One copy of the headers,
 * where the reply-from path made four (its spread, our hook's, its Object.assign, undici's walk of
 * a dictionary).
 */
export function fastRequest (call: FromCall, path: string, opts: FromOptions | undefined, xForwarded: boolean): Dispatcher.DispatchOptions {
  const request = call.reply.request
  const req = request.raw
  const incoming = req.headers as Headers
  const connection = incoming.connection
  const listed = typeof connection === 'string' ? listedNames(connection) : undefined
  let headers: Headers = {}
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || listed?.includes(name) === true) continue
    headers[name] = incoming[name]
  }
  // What reply-from sets and a caller's hook sees; the pool gives each target its own host.
  headers.host = PLACEHOLDER_HOST
  if (xForwarded) setForwarded(request, headers)
  let method = req.method!
  let timeout: number | undefined
  if (opts !== undefined) {
    const theirs = opts.rewriteRequestHeaders
    if (theirs !== undefined) {
      // As on reply-from's path (reply-from-hooks.ts): the caller sees the host of the target the
      // request goes to first, and a Host it sets of its own is sent as set, to every target.
      const host = headers.host = call.firstTarget()?.host ?? PLACEHOLDER_HOST
      headers = withoutConnection(theirs(request as never, headers as never) as Headers)
      if (headers.host !== host) call.keepHostHeader()
    }
    if (opts.method) method = opts.method
    timeout = opts.timeout
  }
  // The route's timeouts filled in here, where a caller set none, so the pool need not copy the options.
  const settings = call.destination.settings
  return {
    origin: PLACEHOLDER_BASE,
    path,
    method: method as Dispatcher.HttpMethod,
    headers: headers as Dispatcher.DispatchOptions['headers'],
    body: '',
    headersTimeout: timeout ?? settings.headersTimeout,
    bodyTimeout: timeout ?? settings.bodyTimeout
  }
}

/**
 * reply-from drops Connection, Transfer-Encoding and what Connection names from whatever a caller's
 * hook returned (undici would refuse the first two).
 */
function withoutConnection (headers: Headers): Headers {
  const connection = headers.connection
  if (connection === undefined && headers['transfer-encoding'] === undefined) return headers
  const out: Headers = { ...headers, connection: undefined, 'transfer-encoding': undefined }
  if (typeof connection === 'string') for (const name of connectionTokens(connection)) out[name] = undefined
  return out
}
