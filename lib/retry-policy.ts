import type { Readable } from 'node:stream'
import type { NormalizedRetry } from './options/retry-options.js'

// Whether a failed try may be repeated on another target: what failed, how far the request got, and
// whether its body can be sent again.

// RFC 9110 §9.2.2. Anything else (POST, PATCH, LOCK, extension methods) may have had its effect
// once the target received it.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

export function isIdempotent (method: string): boolean {
  return IDEMPOTENT.has(method)
}

/**
 * Whether a failed try's error is one `retry` moves on from. `connected`: undici had opened the
 * connection and started sending the request (its onConnect ran). Errors that say nothing about the
 * target (upstream-errors.ts: request-side and proxy-side) never get here.
 */
export function isRetryableError (retry: NormalizedRetry, err: Error & { code?: string }, connected: boolean): boolean {
  const code = err.code
  // Before the connection opened every failure is a connect error: refused, unreachable, DNS, TLS, connect timeout.
  if (!connected) return retry.onConnectError
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return retry.onTimeout
  // Anything else before the response headers is the connection breaking: reset, closed, a malformed answer.
  return retry.onReset
}

/**
 * Whether the request body can be sent again: absent, or held in memory (Fastify parsed it), or a
 * stream no byte of which was read yet (the failed try never got to send it).
 */
export function isReplayable (body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) return true
  const stream = body as Partial<Readable>
  if (typeof stream.pipe === 'function') return stream.readableDidRead === false && stream.destroyed === false
  // Iterables and form data: whether they were consumed cannot be told.
  return false
}

/** Envoy's backoff: full jitter over base x (2^n - 1), capped at 10 x base. `retry` counts from 1. */
export function backoffDelay (base: number, retry: number, random: number): number {
  return Math.floor(random * Math.min(base * (2 ** retry - 1), base * 10))
}
