import type { Attributes, Context, ProxyTracerProvider, Span, Tracer, TracerProvider } from '@opentelemetry/api'
import type { Dispatcher } from 'undici'
import type { NormalizedTracing } from '../options/tracing-options.js'
import { loadOtelApi, type ModuleLoader, type OtelApiModule } from './otel-api.js'
import { withTraceHeaders } from './trace-headers.js'

const { version } = require('../../package.json') as { version: string }

// @opentelemetry/core's key for "trace nothing here" (isTracingSuppressed, which the SDK's tracers
// check): the api's createContextKey is Symbol.for(description), so the api alone makes the same key.
const SUPPRESS_TRACING = 'OpenTelemetry SDK Context Key SUPPRESS_TRACING'

/**
 * fastify-lolly's tracer: it decides per request whether to trace (an SDK is registered), starts
 * client spans, and sends a traced request with its span's context in the headers and with tracing
 * suppressed below it, so that @opentelemetry/instrumentation-undici makes no second client span
 * for the same request (its tracer hands out a non-recording span in a suppressed context, and the
 * propagator then writes nothing over ours).
 */
export class LollyTracer {
  readonly probes: boolean
  private readonly api: OtelApiModule
  private readonly tracer: Tracer
  /** What the api's global provider delegates to while no SDK is registered. */
  private readonly noop: TracerProvider
  private readonly suppressKey: symbol
  private readonly parents = new WeakMap<object, Context>()

  constructor (api: OtelApiModule, settings: NormalizedTracing) {
    this.api = api
    this.probes = settings.probes
    // A ProxyTracer: it reaches an SDK registered after the plugin, from then on.
    this.tracer = api.trace.getTracer('fastify-lolly', version)
    this.noop = new api.ProxyTracerProvider().getDelegate()
    this.suppressKey = api.createContextKey(SUPPRESS_TRACING)
  }

  /**
   * Whether an SDK is registered now: two property reads and a call, no allocation. Without one,
   * nothing is traced and the request goes out as it would without tracing (no header, no context).
   */
  get active (): boolean {
    // The api's global provider is always a ProxyTracerProvider (setGlobalTracerProvider registers its own, delegating to the SDK's).
    return (this.api.trace.getTracerProvider() as ProxyTracerProvider).getDelegate() !== this.noop
  }

  /**
   * The context a call's tries are children of: the one active at its first try (in a route,
   * @fastify/otel's handler span, in its request span), kept for its retries by the call's try log
   * (shared with a caller's retries). A retry starts from the failed try's callbacks, whose active
   * context is not the call's. One entry per traced call, gone with it.
   */
  parentOf (log: object): Context {
    let parent = this.parents.get(log)
    if (parent === undefined) this.parents.set(log, parent = this.api.context.active())
    return parent
  }

  /** The empty context: a probe's span has no parent. */
  get root (): Context {
    return this.api.ROOT_CONTEXT
  }

  /** A client span, a child of `parent`'s span; a root span of its own without a parent. */
  startSpan (name: string, attributes: Attributes, parent: Context | undefined): Span {
    const options = { kind: this.api.SpanKind.CLIENT, attributes, root: parent === undefined }
    return this.tracer.startSpan(name, options, parent)
  }

  /**
   * Sends `opts` through `dispatcher` as `span`'s request (`parent`'s child, baggage and all): its
   * trace context in the headers, tracing suppressed below.
   */
  dispatch (dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, span: Span, parent: Context): void {
    const api = this.api
    const context = api.trace.setSpan(parent, span)
    const carrier: Record<string, string> = {}
    api.propagation.inject(context, carrier)
    const headers = withTraceHeaders(opts.headers, carrier)
    this.dispatchSuppressed(context, dispatcher, headers === opts.headers ? opts : { ...opts, headers }, handler)
  }

  /** Sends `opts` untraced, tracing suppressed below it too (a probe nobody asked to trace). */
  dispatchUntraced (dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    this.dispatchSuppressed(this.api.context.active(), dispatcher, opts, handler)
  }

  private dispatchSuppressed (context: Context, dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    this.api.context.with(context.setValue(this.suppressKey, true), dispatcher.dispatch, dispatcher, opts, handler)
  }
}

/** The tracer of `settings`: null when tracing is off or @opentelemetry/api is not installed. */
export function lollyTracer (settings: NormalizedTracing | null, load?: ModuleLoader): LollyTracer | null {
  if (settings === null) return null
  const api = loadOtelApi(load)
  return api === undefined ? null : new LollyTracer(api, settings)
}
