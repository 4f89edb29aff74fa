import { pick, readSection, type Plain, type Section } from './option-reader.js'

/**
 * OpenTelemetry traces of proxied requests (`tracing: false` turns them off). On by default: traced
 * when @opentelemetry/api is installed and an SDK is registered, untraced (and free) otherwise.
 */
export interface TracingOptions {
  /** Trace active health probes too, each as a root client span of its own. Default false. */
  probes?: boolean
}

export interface NormalizedTracing {
  probes: boolean
}

const DEFAULT_TRACING: NormalizedTracing = { probes: false }

const TRACING: Section<NormalizedTracing | null, NormalizedTracing> = {
  off: () => null,
  on: () => DEFAULT_TRACING,
  read: (value, _where, base) => ({ probes: pick(value, 'probes', base.probes) })
}

/** Reads `tracing`: on by default (`true` alike), null when `false`. */
export function readTracingOptions (options: Plain, path: string): NormalizedTracing | null {
  return readSection(options, 'tracing', path, DEFAULT_TRACING, TRACING)
}
