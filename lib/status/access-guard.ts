import type { FastifyReply, FastifyRequest } from 'fastify'
import { StatusForbiddenError } from '../errors.js'

/**
 * Whether a socket's peer address is on this host: 127.0.0.0/8, ::1, or either mapped into IPv6.
 * The socket's own address and not request.ip, which trustProxy fills from X-Forwarded-For: a
 * header any client can send must not open the page.
 */
export function isLoopback (address: string | undefined): boolean {
  if (address === undefined) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.startsWith('127.') || address === '::1'
}

/** The status routes' guard when the user gave none: loopback clients only, 403 for the rest. */
export function loopbackOnly (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  done(isLoopback(request.socket.remoteAddress) ? undefined : new StatusForbiddenError())
}
