// The HTTP vocabulary every part of fastify-lolly checks against: what a name may hold, what a value
// may hold, and which headers belong to one connection only.

/** RFC 9110 §5.6.2 token: what a header or cookie name may hold. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** A header value that cannot split a request: anything but CR, LF and NUL (header injection). */
export const HEADER_VALUE = /^[^\r\n\0]*$/

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and never cross a proxy, in either
 * direction. reply-from already drops Connection and the headers it lists, and Transfer-Encoding;
 * undici refuses Keep-Alive and Upgrade outright (the request would fail with a 500).
 * Expect is not hop-by-hop, but Node's server has already answered `Expect: 100-continue` and read
 * the body before the route runs, and undici refuses to send it (UND_ERR_NOT_SUPPORTED): forwarding
 * it turned every curl upload over 1 KiB into a 502 charged to the target.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'expect'
])

/**
 * Headers a configured request (a health probe) may not set: the hop-by-hop ones, and the body's
 * framing, which the HTTP client writes from the body it sends.
 */
export const CLIENT_MANAGED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length'])
