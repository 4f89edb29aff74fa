import type { BalancerSet } from '../balancers/balancer-set.js'
import type { NormalizedRetry } from '../options/retry-options.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

/** What a route adds to its pool's settings for each request: failover policy and per-try timeouts. */
export interface RequestSettings {
  retry: NormalizedRetry
  /** undici's headersTimeout for each try (the route's responseTimeout), ms. */
  headersTimeout?: number | undefined
  bodyTimeout?: number | undefined
}

/** Where a request goes: a pool, a balancing policy over it, and the route's settings. */
export interface Destination {
  pool: UpstreamPool
  balancers: BalancerSet
  settings: RequestSettings
}

/** A pool with its own policy and settings: where requests go that name nothing more. */
export function poolDestination (pool: UpstreamPool): Destination {
  return { pool, balancers: pool.balancers, settings: { retry: pool.config.retry } }
}

/** A request in flight, as whoever must be able to stop it sees it. */
export interface Abortable {
  /** The client went away: stop, blame no target, tell the caller's handler once. */
  abort (reason?: Error): void
}

/** Told when a request settled (the reply.from call that made it, which tracks what the client's leaving must stop). */
export interface SettleListener {
  settled (request: Abortable): void
}
