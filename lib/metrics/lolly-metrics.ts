import type { Counter, Gauge, Histogram, LabelValues, MetricObjectWithValues, MetricValueWithName } from 'prom-client'
import { MetricExistsError } from '../errors.js'
import type { SourceSnapshot } from '../discovery/source-status.js'
import type { MetricsRegistry, NormalizedMetrics } from '../options/types.js'
import type { Target, TargetState } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import type { PromClientModule } from './prom-client-loader.js'
import type { RetryReason, TrafficRecorder } from './traffic-recorder.js'

const STATES: readonly TargetState[] = ['healthy', 'unhealthy', 'ejected', 'draining', 'disabled']

type HistogramValues = MetricObjectWithValues<MetricValueWithName<string>>
type Labels = LabelValues<string>
/** Writes a metric's values at scrape time: one call per series. */
type Fill = (emit: (labels: Labels, value: number) => void) => void

export interface LollyMetricsSources {
  pools: Iterable<UpstreamPool>
  /** The discovery sources' snapshots, read at scrape time; none when no pool discovers. */
  discovery: () => readonly SourceSnapshot[]
  recorder: TrafficRecorder
  /** Whether a request can be tried on more than one target; without failover there are no retries to count. */
  retries: boolean
}

/**
 * Registers fastify-lolly's Prometheus metrics in a registry. Every value is read at scrape time
 * (collect()): gauges from the targets themselves, counters and the histogram from the
 * TrafficRecorder's plain numbers, so the request path never calls into prom-client (whose
 * labelled children hash their label values on every call). Returns the function that takes them
 * out of the registry again, for the app's onClose.
 */
export function registerLollyMetrics (client: PromClientModule, options: NormalizedMetrics, sources: LollyMetricsSources): () => void {
  const registry = (options.registry ?? client.register) as MetricsRegistry
  const p = options.prefix
  const { pools, recorder } = sources
  const perTarget = ['upstream', 'target']
  // Made with no registers and added below once all are made: a clash is then our error, not
  // prom-client's, and leaves none of ours behind in the registry.
  const metrics: Array<[string, Gauge | Counter | Histogram]> = [
    collected('gauge', client, `${p}target_up`, 'Whether the target takes traffic (state healthy): 1 or 0.', perTarget, (emit) => {
      forEachTarget(pools, (upstream, target, state) => emit({ upstream, target }, state === 'healthy' ? 1 : 0))
    }),
    collected('gauge', client, `${p}target_state`, 'The target\'s state: 1 for the current one, 0 for the others.', [...perTarget, 'state'], (emit) => {
      forEachTarget(pools, (upstream, target, current) => {
        for (const state of STATES) emit({ upstream, target, state }, state === current ? 1 : 0)
      })
    }),
    collected('gauge', client, `${p}target_inflight`, 'Requests in flight to the target.', perTarget, (emit) => {
      for (const pool of pools) {
        for (const target of pool.targets) emit({ upstream: pool.name, target: target.url }, target.inflight)
      }
    }),
    collected('counter', client, `${p}requests_total`,
      'Tries sent to the target, by outcome: the response status, or timeout / aborted (the client left or stalled its body) / error when there was none.',
      [...perTarget, 'code'], (emit) => {
        for (const traffic of recorder.all()) {
          const labels = { upstream: traffic.upstream, target: traffic.target }
          for (const [status, count] of traffic.statuses) emit({ ...labels, code: String(status) }, count)
          if (traffic.timeouts > 0) emit({ ...labels, code: 'timeout' }, traffic.timeouts)
          if (traffic.aborted > 0) emit({ ...labels, code: 'aborted' }, traffic.aborted)
          if (traffic.errors > 0) emit({ ...labels, code: 'error' }, traffic.errors)
        }
      }),
    collected('counter', client, `${p}ejections_total`, 'Times passive health ejected the target.', perTarget, (emit) => {
      // Every current target has a series from the start, so rate() and increase() see the first ejection.
      forEachTarget(pools, (upstream, target) => { recorder.traffic(upstream, target) })
      for (const traffic of recorder.all()) emit({ upstream: traffic.upstream, target: traffic.target }, traffic.ejections)
    })
  ]
  if (sources.retries) {
    metrics.push(collected('counter', client, `${p}retries_total`,
      'Tries that followed a failed one on another target, by what the failed try got: its status or error code.',
      ['upstream', 'reason'], (emit) => {
        for (const [upstream, reasons] of recorder.retries) {
          for (const [reason, count] of reasons) emit({ upstream, reason: retryLabel(reason) }, count)
        }
      }))
  }
  if ([...pools].some((pool) => pool.config.healthCheck !== null)) {
    metrics.push(collected('counter', client, `${p}health_checks_total`, 'Active health probes of the target, by result: pass or fail.', [...perTarget, 'result'], (emit) => {
      for (const pool of pools) {
        if (pool.config.healthCheck === null) continue
        for (const target of pool.targets) {
          emit({ upstream: pool.name, target: target.url, result: 'pass' }, target.checksPassed)
          emit({ upstream: pool.name, target: target.url, result: 'fail' }, target.checksFailed)
        }
      }
    }))
  }
  if ([...pools].some((pool) => pool.config.sources.length > 0)) {
    const perSource = ['upstream', 'source']
    metrics.push(collected('counter', client, `${p}discovery_lookups_total`,
      'Lookups of a discovery source (a provider\'s values and failures), by result: ok, empty (NXDOMAIN, no records, an empty set) or failed.',
      [...perSource, 'result'], (emit) => {
        for (const source of sources.discovery()) {
          for (const result of ['ok', 'empty', 'failed'] as const) emit({ upstream: source.upstream, source: source.name, result }, source.lookups[result])
        }
      }))
    metrics.push(collected('gauge', client, `${p}discovery_targets`, 'Targets a discovery source lists now.', perSource, (emit) => {
      for (const source of sources.discovery()) emit({ upstream: source.upstream, source: source.name }, source.targets)
    }))
  }
  // Registered always (a route may tunnel on a pool that does not); series for the targets that can have tunnels.
  const tunnelTargets = (emit: (labels: Labels, value: number) => void, value: (target: Target) => number): void => {
    for (const pool of pools) {
      for (const target of pool.targets) {
        if (pool.config.websocket.enabled || target.tunnelsOpened + target.handshakesFailed > 0) emit({ upstream: pool.name, target: target.url }, value(target))
      }
    }
  }
  metrics.push(
    collected('gauge', client, `${p}target_tunnels`, 'WebSocket tunnels open to the target (each also counts in target_inflight).', perTarget,
      (emit) => tunnelTargets(emit, (target) => target.tunnels)),
    collected('counter', client, `${p}tunnels_opened_total`, 'WebSocket tunnels opened to the target.', perTarget,
      (emit) => tunnelTargets(emit, (target) => target.tunnelsOpened)),
    collected('counter', client, `${p}tunnel_handshakes_failed_total`,
      'WebSocket handshakes the target failed: refused, reset, timed out, or answered 2xx or 5xx instead of 101.', perTarget,
      (emit) => tunnelTargets(emit, (target) => target.handshakesFailed))
  )
  metrics.push([`${p}request_duration_seconds`, durationHistogram(client, `${p}request_duration_seconds`, options.buckets, recorder)])

  for (const [name] of metrics) {
    if (registry.getSingleMetric(name) !== undefined) throw new MetricExistsError(name)
  }
  for (const [, metric] of metrics) registry.registerMetric(metric)
  return () => {
    for (const [name, metric] of metrics) {
      // Only ours: the user may have removed it, or registered another under the name since.
      if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name)
    }
  }
}

/**
 * A gauge or counter (with its name, which prom-client's types do not show) whose values `fill`
 * writes afresh at every scrape.
 */
function collected (kind: 'gauge' | 'counter', client: PromClientModule, name: string, help: string, labelNames: string[], fill: Fill): [string, Gauge | Counter] {
  const config = {
    name,
    help,
    labelNames,
    registers: [],
    collect (this: Gauge | Counter) {
      this.reset()
      fill(kind === 'gauge' ? (labels, value) => (this as Gauge).set(labels, value) : (labels, value) => (this as Counter).inc(labels, value))
    }
  }
  return [name, kind === 'gauge' ? new client.Gauge(config) : new client.Counter(config)]
}

function retryLabel (reason: RetryReason): string {
  return typeof reason === 'number' ? String(reason) : reason
}

function forEachTarget (pools: Iterable<UpstreamPool>, fn: (upstream: string, target: string, state: TargetState) => void): void {
  for (const pool of pools) {
    for (const target of pool.targets) fn(pool.name, target.url, target.state)
  }
}

/**
 * prom-client's Histogram, with its values built from the recorder's buckets at scrape time rather
 * than from observe() calls (a Histogram has no way to set buckets). Everything else (registry,
 * text and JSON formats, cluster aggregation) is prom-client's own.
 */
function durationHistogram (client: PromClientModule, name: string, buckets: readonly number[], recorder: TrafficRecorder): Histogram {
  const help = 'Time from sending a try to the target\'s response headers (or to its error), seconds.'
  class RecordedHistogram extends client.Histogram {
    // prom-client's text format calls this one (missing from its typings), the JSON format get().
    async getForPromString (): Promise<HistogramValues> {
      const values: Array<MetricValueWithName<string>> = []
      for (const traffic of recorder.all()) {
        if (traffic.durationCount === 0) continue
        const labels = { upstream: traffic.upstream, target: traffic.target }
        let cumulative = 0
        for (let i = 0; i < buckets.length; i++) {
          cumulative += traffic.buckets[i]
          values.push({ labels: { ...labels, le: buckets[i] }, value: cumulative, metricName: `${name}_bucket` })
        }
        values.push({ labels: { ...labels, le: '+Inf' }, value: traffic.durationCount, metricName: `${name}_bucket` })
        values.push({ labels, value: traffic.durationSum, metricName: `${name}_sum` })
        values.push({ labels, value: traffic.durationCount, metricName: `${name}_count` })
      }
      // The shape prom-client's own Histogram returns; its typings declare `type` as an enum it never uses.
      return { name, help, type: 'histogram', values, aggregator: 'sum' } as unknown as HistogramValues
    }

    override get (): Promise<HistogramValues> {
      return this.getForPromString()
    }
  }
  return new RecordedHistogram({
    name,
    help,
    labelNames: ['upstream', 'target'],
    buckets: [...buckets],
    registers: []
  })
}
