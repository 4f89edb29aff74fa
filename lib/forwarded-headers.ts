import type { FastifyRequest } from 'fastify'

type Headers = Record<string, string | string[] | number | undefined>

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and never cross a proxy, in either
// direction. reply-from already drops Connection and the headers it lists, and Transfer-Encoding;
// undici refuses Keep-Alive and Upgrade outright (the request would fail with a 500).
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']

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
 * Sets X-Forwarded-For/-Proto/-Host from Fastify's view of the request. With trustProxy the
 * incoming X-Forwarded-For chain was vouched for and the peer address is appended (nginx's
 * $proxy_add_x_forwarded_for); without it a client-sent chain is a lie and is replaced.
 */
export function setForwarded (request: FastifyRequest, headers: Headers, trustProxy: boolean): void {
  const peer = request.raw.socket.remoteAddress ?? ''
  const previous = headers['x-forwarded-for']
  headers['x-forwarded-for'] = trustProxy && typeof previous === 'string' && previous !== '' ? `${previous}, ${peer}` : peer
  headers['x-forwarded-proto'] = request.protocol
  headers['x-forwarded-host'] = request.host
}
