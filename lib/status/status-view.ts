import type { SourceSnapshot } from '../discovery/source-status.js'
import type { TargetSnapshot } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

/** What the status routes show: the pools, and the discovery sources' snapshots. */
export interface StatusSource {
  readonly pools: readonly UpstreamPool[]
  readonly defaultUpstream: string
  sources (): SourceSnapshot[]
}

/** One upstream as the status page shows it. */
export interface UpstreamStatus<T extends TargetSnapshot = TargetSnapshot> {
  name: string
  balancer: string
  /** Balancing over unhealthy targets too: fewer than panicPercent of them are healthy. */
  panicking: boolean
  /** ms between active probes; null without active checks. */
  checkInterval: number | null
  targets: T[]
}

/** `GET <path>/targets.json`, and the first message of the event stream. */
export interface StatusView<T extends TargetSnapshot = TargetSnapshot> {
  /** Server time (ms since the epoch), so the page can age probes and count down ejections without trusting its own clock. */
  at: number
  defaultUpstream: string
  upstreams: Array<UpstreamStatus<T>>
  /** The discovery sources of every upstream (`dns`, `srv`, `discover` entries). */
  sources: SourceSnapshot[]
}

/** Every pool's targets, grouped by upstream, with what the page needs to explain them. */
export function statusView<T extends TargetSnapshot> (
  source: StatusSource, now: number, describe: (pool: UpstreamPool) => T[]
): StatusView<T> {
  const upstreams: Array<UpstreamStatus<T>> = []
  for (const pool of source.pools) {
    upstreams.push({
      name: pool.name,
      balancer: pool.config.balancer.name,
      panicking: pool.health.panicking,
      checkInterval: pool.config.healthCheck?.interval ?? null,
      targets: describe(pool)
    })
  }
  return { at: now, defaultUpstream: source.defaultUpstream, upstreams, sources: source.sources() }
}

export function snapshotsOf (pool: UpstreamPool): TargetSnapshot[] {
  return pool.snapshots()
}
