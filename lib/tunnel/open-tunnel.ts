import type { FastifyReply } from 'fastify'
import { BadRequestTargetError, PoolClosedError, TooManyTunnelsError, WebSocketNotEnabledError } from '../errors.js'
import { fastRequest } from '../fastify/fast-request.js'
import type { FromCall } from '../fastify/from-call.js'
import type { FromOptions } from '../fastify/reply-from-hooks.js'
import { TunnelAnswer } from './tunnel-answer.js'
import type { UpgradeRequest } from './upgrade-listener.js'

// A dot segment, once percent-decoded: it would climb out of the target's base path.
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/

/**
 * reply.from() of a WebSocket upgrade: the handshake goes to a target the route's balancer picks,
 * through the pool like any request (failover, passive health, maxConnections), and the client is
 * answered only once a target upgraded (see TunnelAnswer). Of reply.from()'s options, `source`,
 * `rewriteRequestHeaders`, `rewriteHeaders` (on the 101 too) and `onError` apply; the others concern
 * request and response bodies, which a handshake has none of.
 */
export function openTunnel (reply: FastifyReply, call: FromCall, upgrade: UpgradeRequest, source: string | undefined, opts: FromOptions | undefined, xForwarded: boolean): FastifyReply {
  const request = reply.request
  const { pool, settings } = call.destination
  if (!settings.websocket) return reply.send(new WebSocketNotEnabledError(`${request.method} ${request.routeOptions.url}`))
  const path = tunnelPath(request.url, source)
  if (path === undefined) return reply.send(new BadRequestTargetError(JSON.stringify(source || request.url)))
  if (pool.tunnels.closed) return reply.send(new PoolClosedError(pool.name))
  // Built before a place is taken: the caller's rewriteRequestHeaders may throw.
  const dispatch = fastRequest(call, path, opts, xForwarded)
  dispatch.upgrade = 'websocket'
  // The handshake's answer is a head only: handshakeTimeout bounds it, per try.
  dispatch.headersTimeout = pool.config.websocket.handshakeTimeout
  const key = (dispatch.headers as Record<string, unknown>)['sec-websocket-key']
  const answer = new TunnelAnswer(call, opts, upgrade, typeof key === 'string' ? key : '')
  if (!answer.reserve()) {
    reply.header('retry-after', '1')
    return reply.send(new TooManyTunnelsError(pool.name, pool.config.websocket.maxTunnels))
  }
  call.send(dispatch, answer)
  return reply
}

/**
 * The request target a handshake is sent with: the caller's `source` (with its own query, or the
 * request's) or the request's URL, percent-encoding kept as the client wrote it. Undefined for one
 * that could leave the target's base path once decoded (dot segments, `//host`, backslashes, encoded
 * slashes), or that does not decode: such a handshake is refused with 400.
 */
export function tunnelPath (url: string, source: string | undefined): string | undefined {
  const own = source === undefined || source === '' ? url : source
  const queryAt = own.indexOf('?')
  const path = queryAt === -1 ? own : own.slice(0, queryAt)
  const urlQueryAt = url.indexOf('?')
  const query = queryAt !== -1 ? own.slice(queryAt) : own === url || urlQueryAt === -1 ? '' : url.slice(urlQueryAt)
  if (path.charCodeAt(0) !== 47 || path.charCodeAt(1) === 47 || path.includes('#') || /%2f|%5c/i.test(path)) return undefined
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    return undefined
  }
  if (decoded.includes('\\') || DOT_SEGMENT.test(decoded)) return undefined
  return path + query
}
