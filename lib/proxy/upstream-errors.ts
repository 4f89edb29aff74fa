import { BadGatewayError, ClientBodyTimeoutError, GatewayTimeoutError, UnsendableRequestError } from '../errors.js'

// How an error from undici maps to what the client sees. reply-from answers 500 for a refused or reset
// connection; a proxy should answer 502 (bad gateway) for those and 504 for timeouts, as nginx does.

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

// Errors undici raises about the request itself, before a byte of it is sent: they say nothing about
// the target, so they never count toward ejecting it and are never retried elsewhere.
export const REQUEST_SIDE_CODES: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'])

function isRequestSide (err: Error & { code?: string }): boolean {
  return err.code !== undefined && REQUEST_SIDE_CODES.has(err.code)
}

// Errors of the proxy's own making: a try cut because its connection pool was closed or destroyed
// (shutdown, a target removed under it). They say nothing about the target either: never counted
// toward ejecting it, never retried elsewhere. So is a WebSocket handshake a target answered with a
// 2xx: any plain GET route answers one, so a client could otherwise eject targets at will, and every
// other target would answer alike. So is a connection the proxy could not open for want of a file
// descriptor (EMFILE, ENFILE: each open tunnel holds two): charged, it would eject healthy targets
// one after the other, and every other target would fail alike.
const PROXY_SIDE_CODES: ReadonlySet<string> = new Set(['UND_ERR_DESTROYED', 'UND_ERR_CLOSED', 'FST_LOLLY_POOL_CLOSED', 'FST_LOLLY_UPGRADE_REFUSED', 'EMFILE', 'ENFILE'])

function isProxySide (err: Error & { code?: string }): boolean {
  return err.code !== undefined && PROXY_SIDE_CODES.has(err.code)
}

/**
 * For a failure that says nothing about the target (request-side or proxy-side, above), the error
 * its client gets at once: such a try is neither charged nor retried. undefined for the others.
 * undici refusing the request as built (say, a header a route copied from client input) is a 400:
 * no other target would take it either. A client that stalled its body (clientBodyTimeout) gets
 * its 408 as it is: any other target would wait for that body just as long.
 */
export function notTheTargets (err: Error & { code?: string }, target: string): Error | undefined {
  if (err instanceof ClientBodyTimeoutError) return err
  if (isProxySide(err)) return toProxyError(err, target)
  if (!isRequestSide(err)) return undefined
  const requestError = new UnsendableRequestError(`${err.code}: ${err.message}`)
  requestError.cause = err
  return requestError
}

export function isTimeout (err: Error & { code?: string }): boolean {
  return isTimeoutCode(err.code)
}

/** The same, from an error code alone (a try record keeps only the code). */
export function isTimeoutCode (code: string | undefined): boolean {
  return code !== undefined && TIMEOUT_CODES.has(code)
}

/** Short, stable reason for logs, try records and passive-health accounting. */
export function failureReason (err: Error & { code?: string }): string {
  return err.code ?? err.name
}

/** The error the client gets when the last try failed without an HTTP response. */
export function toProxyError (err: Error & { code?: string }, target: string): Error {
  const detail = `${failureReason(err)} from ${target}`
  const proxyError = isTimeout(err) ? new GatewayTimeoutError(detail) : new BadGatewayError(detail)
  proxyError.cause = err
  return proxyError
}
