import type { FastifyRequest } from 'fastify'

type Headers = Record<string, string | string[] | number | undefined>

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and never cross a proxy, in either
// direction. reply-from already drops Connection and the headers it lists, and Transfer-Encoding;
// undici refuses Keep-Alive and Upgrade outright (the request would fail with a 500).
// Expect is not hop-by-hop, but Node's server has already answered `Expect: 100-continue` and read
// the body before the route runs, and undici refuses to send it (UND_ERR_NOT_SUPPORTED): forwarding
// it turned every curl upload over 1 KiB into a 502 charged to the target.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']

/** Removes hop-by-hop headers and every header the Connection header names. */
export function stripHopByHop (headers: Headers): Headers {
  const connection = headers.connection
  if (typeof connection === 'string') {
    for (const name of connection.split(',')) {
      const trimmed = name.trim().toLowerCase()
      // A client must not be able to strip what the proxy adds (X-Forwarded-*, see reply-from's advisory).
      if (trimmed !== '' && !trimmed.startsWith('x-forwarded-')) delete headers[trimmed]
    }
  }
  for (let i = 0; i < HOP_BY_HOP.length; i++) {
    if (headers[HOP_BY_HOP[i]] !== undefined) delete headers[HOP_BY_HOP[i]]
  }
  return headers
}

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
