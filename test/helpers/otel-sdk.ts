import { context, propagation, trace, SpanKind } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'

/** The real OpenTelemetry SDK, as an app would set it up, exporting to memory. */
export interface Sdk {
  provider: BasicTracerProvider
  exporter: InMemorySpanExporter
  /** Finished spans fastify-lolly made (its instrumentation scope). */
  lollySpans (): ReadableSpan[]
  /** Finished client spans, whoever made them. */
  clientSpans (): ReadableSpan[]
  /** Registers the W3C propagator (again, after a test took it away). */
  registerPropagator (): void
}

/** Registers the SDK globally (tracer provider, AsyncLocalStorage context manager, W3C propagator): once per process. */
export function registerSdk (): Sdk {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  trace.setGlobalTracerProvider(provider)
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  const registerPropagator = (): void => { propagation.setGlobalPropagator(new W3CTraceContextPropagator()) }
  registerPropagator()
  return {
    registerPropagator,
    provider,
    exporter,
    lollySpans: () => exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'fastify-lolly'),
    clientSpans: () => exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT)
  }
}

/** The `traceparent` a request to a target carried for `span`: version 00, its trace, itself as the parent, sampled. */
export function traceparentOf (span: ReadableSpan): string {
  const { traceId, spanId } = span.spanContext()
  return `00-${traceId}-${spanId}-01`
}

/** The span's ancestors among `spans`, nearest first. */
export function ancestorsOf (span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan[] {
  const chain: ReadableSpan[] = []
  let parentId = span.parentSpanContext?.spanId
  while (parentId !== undefined) {
    const parent = spans.find((one) => one.spanContext().spanId === parentId)
    if (parent === undefined) break
    chain.push(parent)
    parentId = parent.parentSpanContext?.spanId
  }
  return chain
}
