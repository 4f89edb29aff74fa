import type { FastifyRequest } from 'fastify'

type Headers = Record<string, string | string[] | number | undefined>

/**
 * Sets X-Forwarded-For/-Proto/-Host from Fastify's view of the request. Without trustProxy a
 * client-sent chain proves nothing and is replaced by the peer address. With trustProxy, `request.ips`
 * is the peer plus the hops trustProxy vouches for (up to the first untrusted one, the client):
 * exactly that chain is forwarded, oldest first, as nginx's $proxy_add_x_forwarded_for would.
 */
export function setForwarded (request: FastifyRequest, headers: Headers): void {
  const ips = request.ips
  headers['x-forwarded-for'] = ips === undefined ? (request.raw.socket.remoteAddress ?? '') : ips.slice().reverse().join(', ')
  headers['x-forwarded-proto'] = request.protocol
  headers['x-forwarded-host'] = request.host
}
