import { Pool } from 'undici'
import type { NormalizedTarget } from '../options/types.js'

/**
 * A target's state, written by its pool's TargetHealth only (lib/health/target-health.ts), so
 * active checks, passive ejection and runtime management never overwrite each other.
 * - healthy: takes traffic
 * - unhealthy: active checks failed (or have not passed yet, with initialState 'unhealthy')
 * - ejected: passive health took it out until `ejectedUntil`
 * - draining: no new requests, in-flight ones finish
 * - disabled: configured `down`, or disabled at runtime
 */
export type TargetState = 'healthy' | 'unhealthy' | 'ejected' | 'draining' | 'disabled'

/** A target that takes new traffic when it can (even in panic mode): not draining, not disabled. */
export function inService (target: Target): boolean {
  return target.state !== 'draining' && target.state !== 'disabled'
}

/** The outcome of a target's most recent active health probe. */
export interface CheckResult {
  /** When the probe finished (ms since the epoch). */
  at: number
  ok: boolean
  /** The answer's status; null when there was none (timeout, connection error). */
  status: number | null
  durationMs: number
  /** Why it failed ('status 500', 'timeout', 'body did not match', 'ECONNREFUSED'); null when ok. */
  error: string | null
}

/** Final responses by status class, as HAProxy's hrsp_1xx..hrsp_5xx and hrsp_other (1xx: the 101 of upgrades; interim answers are not counted). */
export interface ResponseCounts {
  '1xx': number
  '2xx': number
  '3xx': number
  '4xx': number
  '5xx': number
  /** Statuses outside 100 to 599. */
  other: number
}

export interface TargetSnapshot {
  url: string
  /** Its configured name (a DNS or SRV target: the name it was found by); null when it has none. */
  name: string | null
  upstream: string
  state: TargetState
  available: boolean
  backup: boolean
  tier: number
  /** The discovery source that made it; null for a static or runtime target. */
  source: string | null
  weight: number
  effectiveWeight: number
  maxConnections: number
  inflight: number
  requests: number
  failures: number
  /** Tries it answered, by status class, since it joined. */
  responses: ResponseCounts
  /** Tries that failed on its side without an answer, or whose answer broke off: refused, reset, timed out. */
  errors: number
  /** Failures since the last good response (statuses outside passive.statuses count as good). */
  consecutiveFailures: number
  /** When a passive ejection ends (ms since the epoch); null when not ejected. */
  ejectedUntil: number | null
  /** EWMA of response time (to response headers) of real traffic, ms; null before the first response. */
  latencyMs: number | null
  /** When the state last changed (ms since the epoch). */
  since: number
  /** WebSocket tunnels open now (each also counts in `inflight`). */
  tunnels: number
  /** WebSocket tunnels opened since the target joined. */
  tunnelsOpened: number
  /** WebSocket handshakes it failed (refused, reset, timed out, or answered without upgrading). */
  handshakesFailed: number
  /** The last active health probe; null without active checks or before the first probe. */
  lastCheck: CheckResult | null
}

/** How a pool connects to each of its targets. */
export interface TargetConnectionSettings {
  connections: number
  pipelining: number
  connectTimeout: number
  responseTimeout: number
  bodyTimeout: number
  tlsRejectUnauthorized: boolean
}

/**
 * One upstream target: its address, its keep-alive connection pool, and what is known about it.
 * Every mutable field is read-only to the rest of the code and has one owner that writes it, through
 * the writable views below: the pool (lib/pool) writes its position, weights, load and traffic
 * accounting; the pool's TargetHealth (lib/health) writes its state and health record. Balancers,
 * the proxy path, metrics and the status page only read.
 */
export class Target {
  readonly url: string
  /** See NormalizedTarget.name. */
  readonly name: string | null
  readonly origin: string
  readonly basePath: string
  /**
   * Sent as the Host header: `host[:port]` of the origin (what nginx's proxy_pass sends by default),
   * or the name a discovered target answers to. undici derives the TLS server name from it, so an
   * https target found by name is reached with that name as SNI and its certificate checked against it.
   */
  readonly host: string
  readonly upstream: string
  /** The discovery source that owns it; null for a static or runtime target. */
  readonly source: string | null
  readonly dispatcher: Pool

  // ---- written by the pool (PoolFields) ----
  /** Failover tier (0 primaries, 1 backups, more from SRV priorities). Its source may move it. */
  readonly tier: number
  /** Cap on requests in flight; 0 is none. Its source may change it. */
  readonly maxConnections: number
  /** Position in its pool's target list; balancers index arrays with it. */
  readonly index: number = 0
  readonly weight: number
  /** Weight the balancers use: `weight`, ramped down during slow start. */
  readonly effectiveWeight: number
  readonly inflight: number = 0
  readonly requests: number = 0
  readonly failures: number = 0
  /**
   * Answers by status class: slot 1 to 5 for 1xx to 5xx, slot 0 for statuses outside 100-599, so
   * counting one is a division and an increment. Its slots are written by the pool only.
   */
  readonly responseClasses = new Float64Array(6)
  readonly errors: number = 0
  readonly consecutiveFailures: number = 0
  /** EWMA of the time to response headers, ms; -1 before the first response. */
  readonly latencyMs: number = -1
  /**
   * The target answered 503 with Retry-After: requests do not pick it before this time (ms since the
   * epoch); 0 when it did not ask. Not a state: it only steers picks.
   */
  readonly retryAfterUntil: number = 0
  /** WebSocket tunnels open now; each holds an in-flight slot too, for least-connections and maxConnections. */
  readonly tunnels: number = 0
  readonly tunnelsOpened: number = 0
  readonly handshakesFailed: number = 0
  /**
   * Whether the pool's balancers hold this target: healthy, or (in panic mode) anything but disabled
   * or draining. Set by the pool when it rebuilds its balancers, so a pick never re-derives it.
   */
  readonly routable: boolean

  // ---- written by the pool's TargetHealth (HealthFields) ----
  readonly state: TargetState
  /** When the state last changed (ms since the epoch). */
  readonly since: number
  /** End of the current passive ejection (ms since the epoch), 0 when not ejected. */
  readonly ejectedUntil: number = 0
  /** The last active probe; replaced, never mutated, so snapshots can share it. */
  readonly lastCheck: CheckResult | null = null
  /** Probes that passed and failed (metrics read them at scrape time). */
  readonly checksPassed: number = 0
  readonly checksFailed: number = 0

  constructor (config: NormalizedTarget, upstream: string, settings: TargetConnectionSettings, state: TargetState, now: number) {
    this.url = config.url
    this.name = config.name
    this.origin = config.origin
    this.basePath = config.basePath
    this.host = config.virtualHost ?? new URL(config.origin).host
    this.upstream = upstream
    this.tier = config.tier
    this.source = config.source
    this.weight = config.weight
    this.effectiveWeight = config.weight
    this.maxConnections = config.maxConnections
    this.state = state
    this.since = now
    this.routable = state === 'healthy'
    this.dispatcher = new Pool(config.origin, {
      connections: settings.connections,
      pipelining: settings.pipelining,
      headersTimeout: settings.responseTimeout,
      bodyTimeout: settings.bodyTimeout,
      connect: {
        timeout: settings.connectTimeout,
        rejectUnauthorized: settings.tlsRejectUnauthorized,
        // The request's Host gives undici its server name; this is the fallback when a caller keeps an address as Host.
        ...(config.virtualHost === null ? {} : { servername: config.virtualHost.replace(/:\d+$/, '') })
      }
    })
  }

  /** A target of a tier past the first: it takes traffic only when the tiers before it cannot. */
  get backup (): boolean {
    return this.tier > 0
  }

  /** Whether a new request may go here now: in the balancers (see routable) and under its in-flight cap. */
  canTake (): boolean {
    return this.routable && (this.maxConnections === 0 || this.inflight < this.maxConnections)
  }

  snapshot (): TargetSnapshot {
    const classes = this.responseClasses
    return {
      url: this.url,
      name: this.name,
      upstream: this.upstream,
      state: this.state,
      available: this.state === 'healthy',
      backup: this.backup,
      tier: this.tier,
      source: this.source,
      weight: this.weight,
      effectiveWeight: this.effectiveWeight,
      maxConnections: this.maxConnections,
      inflight: this.inflight,
      requests: this.requests,
      failures: this.failures,
      responses: { '1xx': classes[1], '2xx': classes[2], '3xx': classes[3], '4xx': classes[4], '5xx': classes[5], other: classes[0] },
      errors: this.errors,
      consecutiveFailures: this.consecutiveFailures,
      ejectedUntil: this.ejectedUntil === 0 ? null : this.ejectedUntil,
      latencyMs: this.latencyMs < 0 ? null : Math.round(this.latencyMs * 1000) / 1000,
      since: this.since,
      tunnels: this.tunnels,
      tunnelsOpened: this.tunnelsOpened,
      handshakesFailed: this.handshakesFailed,
      lastCheck: this.lastCheck
    }
  }
}

type Writable<T, K extends keyof T> = { -readonly [P in K]: T[P] }

/** The fields the pool writes. Imported only in lib/pool (eslint.config.js enforces it). */
export type PoolFields = Writable<Target, 'index' | 'tier' | 'maxConnections' | 'weight' | 'effectiveWeight' | 'inflight' |
'requests' | 'failures' | 'errors' | 'consecutiveFailures' | 'latencyMs' | 'retryAfterUntil' | 'routable' | 'tunnels' | 'tunnelsOpened' |
'handshakesFailed'>

/** The fields the pool's TargetHealth writes. Imported only in lib/health (eslint.config.js enforces it). */
export type HealthFields = Writable<Target, 'state' | 'since' | 'ejectedUntil' | 'lastCheck' | 'checksPassed' | 'checksFailed'>
