import type { Context, Span } from '@opentelemetry/api'
import type { Dispatcher } from 'undici'
import type { Target } from '../pool/target.js'
import { failureReason } from '../proxy/upstream-errors.js'
import { endClientSpan, requestAttributes, spanName } from './http-client-span.js'
import type { LollyTracer } from './lolly-tracer.js'

/**
 * The client span of one try of a proxied request, a child of `parent`'s span (LollyTracer#parentOf):
 * `resendCount` tries of the same call went before it, and the last of them moved on for
 * `retryReason` (a `retry.on` value; 'caller' for a retry reply-from's `retryDelay` made).
 */
export function startTrySpan (tracer: LollyTracer, parent: Context, target: Target, opts: Dispatcher.DispatchOptions, resendCount: number, retryReason: string | undefined): Span {
  const attributes = requestAttributes(target, opts.method, opts.path)
  attributes['lolly.try'] = resendCount + 1
  if (resendCount > 0) {
    attributes['http.request.resend_count'] = resendCount
    attributes['lolly.retry_reason'] = retryReason ?? 'caller'
  }
  return tracer.startSpan(spanName(opts.method), attributes, parent)
}

/** Ends a try's span: its answer's status (0: none), and how it failed (an error, or why it was let go of). */
export function endTrySpan (span: Span, statusCode: number, failure: Error | string | undefined): void {
  if (typeof failure === 'string') return endClientSpan(span, statusCode, failure)
  if (failure === undefined) return endClientSpan(span, statusCode, undefined)
  endClientSpan(span, statusCode, failureReason(failure), failure.message)
}
