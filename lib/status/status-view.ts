import type { SourceSnapshot } from '../discovery/source-status.js'
import type { StateChange } from '../pool/pool-events.js'
import type { ResponseCounts, TargetSnapshot } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

/** What the status routes show: the pools, the discovery sources' snapshots and the kept state changes. */
export interface StatusSource {
  readonly pools: readonly UpstreamPool[]
  readonly defaultUpstream: string
  sources (): SourceSnapshot[]
  /** The last state changes, oldest first (status.history of them). */
  history (): StateChange[]
}

/** An upstream's traffic summed over its targets (those it has now), as HAProxy's backend row. */
export interface UpstreamTotals {
  requests: number
  responses: ResponseCounts
  errors: number
  inflight: number
  tunnels: number
}

/** One upstream as the status page shows it. */
export interface UpstreamStatus<T extends TargetSnapshot = TargetSnapshot> {
  name: string
  balancer: string
  /** Balancing over unhealthy targets too: fewer than panicPercent of them are healthy. */
  panicking: boolean
  /** ms between active probes; null without active checks. */
  checkInterval: number | null
  /** Whether it tunnels WebSocket upgrades (`websocket`), so the page shows its tunnels. */
  websocket: boolean
  targets: T[]
  totals: UpstreamTotals
}

/** `GET <path>/targets.json`, and the messages of the event stream. */
export interface StatusView<T extends TargetSnapshot = TargetSnapshot> {
  /** Server time (ms since the epoch), so the page can age probes and count down ejections without trusting its own clock. */
  at: number
  defaultUpstream: string
  upstreams: Array<UpstreamStatus<T>>
  /** The discovery sources of every upstream (`dns`, `srv`, `discover` entries). */
  sources: SourceSnapshot[]
  /** The kept state changes, oldest first: in targets.json and the stream's first message, not in its summaries. */
  history?: StateChange[]
}

/** Every pool's targets, grouped by upstream, with what the page needs to explain them. */
export function statusView<T extends TargetSnapshot> (
  source: StatusSource, now: number, describe: (pool: UpstreamPool) => T[], withHistory: boolean
): StatusView<T> {
  const upstreams: Array<UpstreamStatus<T>> = []
  for (const pool of source.pools) {
    const targets = describe(pool)
    upstreams.push({
      name: pool.name,
      balancer: pool.config.balancer.name,
      panicking: pool.health.panicking,
      checkInterval: pool.config.healthCheck?.interval ?? null,
      websocket: pool.config.websocket.enabled,
      targets,
      totals: totalsOf(targets)
    })
  }
  const view: StatusView<T> = { at: now, defaultUpstream: source.defaultUpstream, upstreams, sources: source.sources() }
  if (withHistory) view.history = source.history()
  return view
}

export function snapshotsOf (pool: UpstreamPool): TargetSnapshot[] {
  return pool.snapshots()
}

function totalsOf (targets: readonly TargetSnapshot[]): UpstreamTotals {
  const responses: ResponseCounts = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 }
  const totals: UpstreamTotals = { requests: 0, responses, errors: 0, inflight: 0, tunnels: 0 }
  for (const target of targets) {
    totals.requests += target.requests
    totals.errors += target.errors
    totals.inflight += target.inflight
    totals.tunnels += target.tunnels
    for (const key in responses) responses[key as keyof ResponseCounts] += target.responses[key as keyof ResponseCounts]
  }
  return totals
}
