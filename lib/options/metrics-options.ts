import { invalid, join, readSection, type Plain, type Section } from './option-reader.js'

/**
 * What fastify-lolly needs of a prom-client Registry. Typed structurally so that the package's
 * types do not depend on prom-client, which is an optional peer dependency.
 */
export interface MetricsRegistry {
  registerMetric (metric: any): void
  getSingleMetric (name: string): unknown
  removeSingleMetric (name: string): void
}

/** Prometheus metrics through prom-client (`metrics: true` or an object). Off unless set. */
export interface MetricsOptions {
  /** The registry to add the metrics to (the one fastify-metrics serves, say). Default: prom-client's global one. */
  registry?: MetricsRegistry
  /** Prefix of every metric name. Default 'lolly_'. */
  prefix?: string
  /** Upper bounds (seconds) of the request duration histogram's buckets, ascending. */
  buckets?: number[]
}

export interface NormalizedMetrics {
  /** null: prom-client's global registry. */
  registry: MetricsRegistry | null
  prefix: string
  buckets: readonly number[]
}

const METRICS_KEYS = ['registry', 'prefix', 'buckets']
// From 1 ms (a target on the same host) to 10 s (near the default response timeout's tail).
export const DEFAULT_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const METRIC_PREFIX = /^[A-Za-z_:][A-Za-z0-9_:]*$/

const DEFAULT_METRICS: NormalizedMetrics = { registry: null, prefix: 'lolly_', buckets: DEFAULT_BUCKETS }

const METRICS: Section<NormalizedMetrics | null, NormalizedMetrics> = {
  keys: METRICS_KEYS,
  off: () => null,
  on: () => DEFAULT_METRICS,
  read: (value, where, base) => ({
    registry: readRegistry(value, join(where, 'registry')) ?? base.registry,
    prefix: readPrefix(value, join(where, 'prefix')) ?? base.prefix,
    buckets: readBuckets(value, join(where, 'buckets')) ?? base.buckets
  })
}

/** Reads `metrics`: off by default, `true` for prom-client's global registry and the 'lolly_' prefix. */
export function readMetricsOptions (options: Plain, path: string): NormalizedMetrics | null {
  return readSection(options, 'metrics', path, null, METRICS)
}

function readRegistry (object: Plain, path: string): MetricsRegistry | undefined {
  const registry = object.registry as Partial<MetricsRegistry> | undefined
  if (registry === undefined) return undefined
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function' ||
    typeof registry.getSingleMetric !== 'function' || typeof registry.removeSingleMetric !== 'function') {
    throw invalid(path, 'a prom-client Registry', registry)
  }
  return registry as MetricsRegistry
}

function readPrefix (object: Plain, path: string): string | undefined {
  const prefix = object.prefix
  if (prefix === undefined) return undefined
  // '' is allowed: names are then `target_up`, `requests_total`, ...
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_PREFIX.test(prefix))) {
    throw invalid(path, 'a Prometheus metric name prefix (letters, digits, _ and :, not starting with a digit)', prefix)
  }
  return prefix
}

function readBuckets (object: Plain, path: string): readonly number[] | undefined {
  const buckets = object.buckets
  if (buckets === undefined) return undefined
  if (!Array.isArray(buckets) || buckets.length === 0 || buckets.length > 50) {
    throw invalid(path, 'an array of 1 to 50 ascending positive numbers (seconds)', buckets)
  }
  for (let i = 0; i < buckets.length; i++) {
    const bound = buckets[i] as unknown
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= 0 || (i > 0 && bound <= buckets[i - 1])) {
      throw invalid(`${path}[${i}]`, 'a positive number of seconds, above the bucket before it', bound)
    }
  }
  return [...buckets] as number[]
}
