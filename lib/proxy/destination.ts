import type { Dispatcher } from 'undici'
import { AffinityCookie } from '../affinity/affinity-cookie.js'
import type { BalancerSet } from '../balancers/balancer-set.js'
import type { NormalizedAffinity } from '../options/affinity-options.js'
import type { NormalizedRetry } from '../options/retry-options.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

/** What a route adds to its pool's settings for each request: failover policy and per-try timeouts. */
export interface RequestSettings {
  retry: NormalizedRetry
  /** undici's headersTimeout for each try (the route's responseTimeout), ms. */
  headersTimeout?: number | undefined
  bodyTimeout?: number | undefined
  /** Longest pause in a request body streamed from the client, ms; 0 is off (see client-body-timer.ts). */
  clientBodyTimeout: number
  /** Whether WebSocket upgrades are tunnelled (lib/tunnel). */
  websocket: boolean
  /** The sticky cookie requests carry and answers set; null without session affinity. */
  affinity: AffinityCookie | null
}

/** Where a request goes: a pool, a balancing policy over it, and the route's settings. */
export interface Destination {
  pool: UpstreamPool
  balancers: BalancerSet
  settings: RequestSettings
}

/** `opts` with the route's per-try timeouts, unless the caller set its own for this request (reply.from's `timeout`). */
export function withRouteTimeouts (opts: Dispatcher.DispatchOptions, settings: RequestSettings): Dispatcher.DispatchOptions {
  const { headersTimeout, bodyTimeout } = settings
  if ((headersTimeout === undefined && bodyTimeout === undefined) || (opts.headersTimeout != null && opts.bodyTimeout != null)) return opts
  return { ...opts, headersTimeout: opts.headersTimeout ?? headersTimeout, bodyTimeout: opts.bodyTimeout ?? bodyTimeout }
}

/** A pool with its own policy and settings: where requests go that name nothing more. */
export function poolDestination (pool: UpstreamPool): Destination {
  const { retry, websocket, affinity, clientBodyTimeout } = pool.config
  return { pool, balancers: pool.balancers, settings: { retry, clientBodyTimeout, websocket: websocket.enabled, affinity: affinityCookie(pool, affinity) } }
}

/** The sticky cookie of `pool` under `settings`: it names the pool's targets, and only those it still has. */
export function affinityCookie (pool: UpstreamPool, settings: NormalizedAffinity | null): AffinityCookie | null {
  if (settings === null) return null
  return new AffinityCookie(settings, pool.name, () => pool.targets.map((target) => target.url), (url) => pool.target(url) !== undefined)
}

/** A request in flight, as whoever must be able to stop it sees it. */
export interface Abortable {
  /** The client went away: stop, blame no target, tell the caller's handler once. */
  abort (reason?: Error): void
}

/** The reply.from call that made a request: it tracks what the client's leaving must stop, and speaks reply-from's errors. */
export interface SettleListener {
  settled (request: Abortable): void
  /** The error the caller's handler gets for `err`, the request's own (FST_LOLLY_*). */
  callerError (err: Error): Error
}
