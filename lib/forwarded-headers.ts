import type { FastifyRequest } from 'fastify'

type Headers = Record<string, string | string[] | number | undefined>

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and never cross a proxy, in either
// direction. reply-from already drops Connection and the headers it lists, and Transfer-Encoding;
// undici refuses Keep-Alive and Upgrade outright (the request would fail with a 500).
// Expect is not hop-by-hop, but Node's server has already answered `Expect: 100-continue` and read
// the body before the route runs, and undici refuses to send it (UND_ERR_NOT_SUPPORTED): forwarding
// it turned every curl upload over 1 KiB into a 502 charged to the target.
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect'])

/**
 * Removes hop-by-hop headers and every header the Connection header names. Returns the headers to
 * use: `headers` itself when it had none to remove and `copy` is false, else a new object (see
 * withoutHopByHop).
 */
export function stripHopByHop (headers: Headers, copy = false): Headers {
  const connection = headers.connection
  if (typeof connection === 'string') {
    for (const name of connection.split(',')) {
      const trimmed = name.trim().toLowerCase()
      // A client must not be able to strip what the proxy adds (X-Forwarded-*, see reply-from's advisory).
      if (trimmed !== '' && !trimmed.startsWith('x-forwarded-')) delete headers[trimmed]
    }
  }
  if (copy) return withoutHopByHop(headers)
  // One pass over the headers there are (a handful) rather than a lookup of every hop-by-hop name
  // (measured on request headers: 141 -> 62 ns).
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) return withoutHopByHop(headers)
  }
  return headers
}

/**
 * A copy without the hop-by-hop headers. Deleting one from the middle of an object (a Node
 * upstream's Keep-Alive, on nearly every response) turns it into a dictionary, slow for every
 * reader after us; copying the rest costs less than the delete alone. Measured on a Node upstream's
 * response headers, stripped then read once as Fastify does: 423 ns deleting, 115 ns copying.
 */
function withoutHopByHop (headers: Headers): Headers {
  const out: Headers = {}
  for (const name in headers) {
    if (!HOP_BY_HOP.has(name)) out[name] = headers[name]
  }
  return out
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
