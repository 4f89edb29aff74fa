import type { Span } from '@opentelemetry/api'
import type { Target } from '../pool/target.js'
import { endClientSpan, requestAttributes, spanName } from './http-client-span.js'
import type { LollyTracer } from './lolly-tracer.js'

/** What a probe sends and how it went, as lib/health/probe.ts has them (imported from here, it would be a cycle). */
interface ProbeRequest { origin: string, path: string, method: string }
interface ProbeOutcome { ok: boolean, status: number | null, error: string | null }

/**
 * The client span of an active health probe (`tracing: { probes: true }`): a root span, the trace
 * of its own. A probe runs on the checker's clock, for no request: parenting it to whatever span
 * happened to be active when its timer was armed would be a lie, and one trace a probe is what a
 * trace view can show and sample on its own.
 */
export function startProbeSpan (tracer: LollyTracer, target: Target, request: ProbeRequest): Span {
  const attributes = requestAttributes(target, request.method, request.path, request.origin)
  attributes['lolly.probe'] = true
  return tracer.startSpan(spanName(request.method), attributes, undefined)
}

/** Ends a probe's span with its outcome (null: the probe was cancelled, the checker stopped). */
export function endProbeSpan (span: Span, outcome: ProbeOutcome | null): void {
  if (outcome === null) return span.end()
  const status = outcome.status ?? 0
  // A status `expect.status` refuses is the error (its code, as for any client span); else the probe's reason.
  const errorType = outcome.ok ? undefined : outcome.error === `status ${status}` ? String(status) : outcome.error!
  endClientSpan(span, status, errorType)
}
