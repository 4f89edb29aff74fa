import { invalid, join, pick, readSection, type Plain, type Section } from './option-reader.js'

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

// From 1 ms (a target on the same host) to 10 s (near the default response timeout's tail).
export const DEFAULT_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const DEFAULT_METRICS: NormalizedMetrics = { registry: null, prefix: 'lolly_', buckets: DEFAULT_BUCKETS }

const METRICS: Section<NormalizedMetrics | null, NormalizedMetrics> = {
  off: () => null,
  on: () => DEFAULT_METRICS,
  read: (value, where, base) => ({
    registry: pick(value, 'registry', base.registry),
    prefix: pick(value, 'prefix', base.prefix),
    buckets: value.buckets === undefined ? base.buckets : readBuckets(value.buckets as number[], join(where, 'buckets'))
  })
}

/** Reads `metrics`: off by default, `true` for prom-client's global registry and the 'lolly_' prefix. */
export function readMetricsOptions (options: Plain, path: string): NormalizedMetrics | null {
  return readSection(options, 'metrics', path, null, METRICS)
}

/** The buckets, copied; ascending is checked here (a schema cannot compare an entry with the one before it). */
function readBuckets (buckets: number[], path: string): readonly number[] {
  for (let i = 1; i < buckets.length; i++) {
    if (buckets[i] <= buckets[i - 1]) throw invalid(`${path}[${i}]`, 'a positive number of seconds, above the bucket before it', buckets[i])
  }
  return [...buckets]
}
