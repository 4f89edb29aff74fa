import { BadGatewayError, GatewayTimeoutError } from './errors.js'

// How an error from undici maps to what the client sees. reply-from answers 500 for a refused or reset
// connection; a proxy should answer 502 (bad gateway) for those and 504 for timeouts, as nginx does.

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

export function isTimeout (err: Error & { code?: string }): boolean {
  return err.code !== undefined && TIMEOUT_CODES.has(err.code)
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
