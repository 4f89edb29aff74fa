import createError from '@fastify/error'

// The errors reply-from wraps a failed request in before its onError sees it (its lib/errors.js,
// same codes, messages and statuses): the fast path hands a caller's onError what reply-from would
// have, so one written against reply-from keeps working. reply-from does not export its own.
const ServiceUnavailableError = createError('FST_REPLY_FROM_SERVICE_UNAVAILABLE', 'Service Unavailable', 503)
const GatewayTimeoutError = createError('FST_REPLY_FROM_GATEWAY_TIMEOUT', 'Gateway Timeout', 504)
const ConnectionResetError = createError('ECONNRESET', 'Connection Reset', 500)
const ConnectTimeoutError = createError('UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error', 504)
const UndiciSocketError = createError('UND_ERR_SOCKET', 'Undici Socket Error', 500)
const InternalServerError = createError<[string, { cause: Error }]>('FST_REPLY_FROM_INTERNAL_SERVER_ERROR', '%s', 500)
/** An upstream status Fastify refuses (outside 100-599). */
export const BadGatewayError = createError('FST_REPLY_FROM_BAD_GATEWAY', 'Bad Gateway', 502)

/** reply-from's wrapper of a dispatcher error, as its request callback picks it (undici errors only: no HTTP/2, no node:http). */
export function wrapError (err: Error & { code?: string }): Error {
  const cause = { cause: err }
  switch (err.code) {
    case 'ENOTFOUND': return new ServiceUnavailableError(cause)
    case 'UND_ERR_HEADERS_TIMEOUT': return new GatewayTimeoutError(cause)
    case 'ECONNRESET': return new ConnectionResetError(cause)
    case 'UND_ERR_SOCKET': return new UndiciSocketError(cause)
    case 'UND_ERR_CONNECT_TIMEOUT': return new ConnectTimeoutError(cause)
    default: return new InternalServerError(err.message, cause)
  }
}
