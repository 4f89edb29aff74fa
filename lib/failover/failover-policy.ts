import type { Readable } from 'node:stream'
import type { NormalizedRetry, RetryOn } from '../options/retry-options.js'

// The failover decision, as a pure function of the retry settings, what failed, and how far the
// request got: whether it is tried again and after what delay. Where it goes (a target it has not
// tried, see proxied-request.ts) and whether the pool can afford it (retry-budget.ts) come after.

// RFC 9110 §9.2.2. Anything else (POST, PATCH, LOCK, extension methods) may have had its effect
// once the target received it.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** How a try failed: an answer with a status `retry.statuses` lists, or an error before (or instead of) one. */
export type TryFailure =
  | { status: number }
  | {
    error: Error & { code?: string }
    /** undici had opened the connection and started sending the request (its onConnect ran). */
    connected: boolean
  }

/** What the decision needs of the request. */
export interface RetryContext {
  method: string
  body: unknown
  /** Tries made so far, the failed one included. */
  tries: number
  /** Time since the request's first try started, ms. */
  elapsedMs: number
}

/**
 * The delay (ms) before the request is tried again, or -1 when it is not: the failure is not one
 * `retry.on` moves on from, the attempts are used up, the method or body forbid sending it again,
 * or the backoff would end past `retry.timeout`. `random` in [0, 1) draws the backoff's jitter.
 */
export function retryDelay (retry: NormalizedRetry, failure: TryFailure, request: RetryContext, random: number): number {
  const reachedTarget = 'status' in failure || failure.connected
  if ('error' in failure && !isRetryableError(retry, failure.error, failure.connected)) return -1
  if (request.tries > retry.attempts) return -1
  if (reachedTarget && !retry.nonIdempotent && !IDEMPOTENT.has(request.method)) return -1
  if (!isReplayable(request.body)) return -1
  const delay = retry.backoff === 0 ? 0 : backoffDelay(retry.backoff, request.tries, random)
  if (retry.timeout !== 0 && request.elapsedMs + delay >= retry.timeout) return -1
  return delay
}

/** Which of `retry.on` a failed try's failure is: why a retry of it moves on (traces name it so). */
export function failureKind (failure: TryFailure): RetryOn {
  return 'status' in failure ? 'status' : errorKind(failure.error, failure.connected)
}

function errorKind (err: Error & { code?: string }, connected: boolean): RetryOn {
  // Health took the target out while the try waited (proxied-request.ts tryTargetDown).
  if (err.code === 'FST_LOLLY_TARGET_DOWN') return 'target-down'
  // Before the connection opened every failure is a connect error: refused, unreachable, DNS, TLS, connect timeout.
  if (!connected) return 'connect-error'
  if (err.code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout'
  // Anything else before the response headers is the connection breaking: reset, closed, a malformed answer.
  return 'reset'
}

/**
 * Whether a failed try's error is one `retry` moves on from. Errors that say nothing about the
 * target (upstream-errors.ts: request-side and proxy-side) never get here.
 */
function isRetryableError (retry: NormalizedRetry, err: Error & { code?: string }, connected: boolean): boolean {
  switch (errorKind(err, connected)) {
    case 'target-down': return retry.onTargetDown
    case 'connect-error': return retry.onConnectError
    case 'timeout': return retry.onTimeout
    default: return retry.onReset
  }
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
