import { Pool } from 'undici'
import type { NormalizedTarget } from './options/types.js'

/**
 * A target's state. One writer (UpstreamPool#setState) changes it, so active checks, passive
 * ejection and runtime management never overwrite each other.
 * - healthy: takes traffic
 * - unhealthy: active checks failed
 * - ejected: passive health took it out until `ejectedUntil`
 * - draining: no new requests, in-flight ones finish
 * - disabled: configured `down`, or disabled at runtime
 */
export type TargetState = 'healthy' | 'unhealthy' | 'ejected' | 'draining' | 'disabled'

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

export interface TargetSnapshot {
  url: string
  upstream: string
  state: TargetState
  available: boolean
  backup: boolean
  weight: number
  effectiveWeight: number
  maxConnections: number
  inflight: number
  requests: number
  failures: number
  /** Failures since the last good response (statuses outside passive.statuses count as good). */
  consecutiveFailures: number
  /** When a passive ejection ends (ms since the epoch); null when not ejected. */
  ejectedUntil: number | null
  /** EWMA of response time (to response headers) of real traffic, ms; null before the first response. */
  latencyMs: number | null
  /** When the state last changed (ms since the epoch). */
  since: number
  /** The last active health probe; null without active checks or before the first probe. */
  lastCheck: CheckResult | null
}

export interface TargetPoolSettings {
  connections: number
  pipelining: number
  connectTimeout: number
  responseTimeout: number
  bodyTimeout: number
  tlsRejectUnauthorized: boolean
}

// Weight of the newest sample in the latency EWMA: about the last 10 responses dominate.
const LATENCY_ALPHA = 0.1

export class Target {
  readonly url: string
  readonly origin: string
  readonly basePath: string
  /** `host[:port]` of the origin, sent as the Host header (what nginx's proxy_pass sends by default). */
  readonly host: string
  readonly upstream: string
  readonly backup: boolean
  readonly dispatcher: Pool
  /** Position in its pool's target list; balancers index arrays with it. */
  index = 0
  state: TargetState
  since: number
  weight: number
  /** Weight the balancers use: `weight`, ramped down during slow start. */
  effectiveWeight: number
  maxConnections: number
  inflight = 0
  requests = 0
  failures = 0
  consecutiveFailures = 0
  /** End of the current passive ejection (ms since the epoch), 0 when not ejected. */
  ejectedUntil = 0
  /**
   * Consecutive passive ejections (1 for a first one; decays while the target stays in service).
   * The active checker ends only a first ejection early: a target ejected again right after coming
   * back serves its whole doubled time, so probes that pass cannot undo what real traffic shows.
   */
  ejectionStreak = 0
  /**
   * The target answered 503 with Retry-After: requests do not pick it before this time (ms since the
   * epoch); 0 when it did not ask. Not a state: it only steers picks (ProxyCall#excludes).
   */
  retryAfterUntil = 0
  latencyMs = -1
  /**
   * Whether the pool's balancers hold this target: healthy, or (in panic mode) anything but disabled
   * or draining. Set by the pool on every rebuild, so a pick never re-derives it.
   */
  routable: boolean
  /** Probes that passed and failed, counted by the active checker (metrics read them at scrape time). */
  checksPassed = 0
  checksFailed = 0
  /** Written by the active checker after each probe; replaced, never mutated, so snapshots can share it. */
  lastCheck: CheckResult | null = null

  constructor (config: NormalizedTarget, upstream: string, settings: TargetPoolSettings, now: number) {
    this.url = config.url
    this.origin = config.origin
    this.basePath = config.basePath
    this.host = new URL(config.origin).host
    this.upstream = upstream
    this.backup = config.backup
    this.weight = config.weight
    this.effectiveWeight = config.weight
    this.maxConnections = config.maxConnections
    this.state = config.down ? 'disabled' : 'healthy'
    this.since = now
    this.routable = this.state === 'healthy'
    this.dispatcher = new Pool(config.origin, {
      connections: settings.connections,
      pipelining: settings.pipelining,
      headersTimeout: settings.responseTimeout,
      bodyTimeout: settings.bodyTimeout,
      connect: { timeout: settings.connectTimeout, rejectUnauthorized: settings.tlsRejectUnauthorized }
    })
  }

  get available (): boolean {
    return this.state === 'healthy'
  }

  /** Whether a new request may go here now: in the balancers (see routable) and under its in-flight cap. */
  canTake (): boolean {
    return this.routable && (this.maxConnections === 0 || this.inflight < this.maxConnections)
  }

  recordLatency (ms: number): void {
    this.latencyMs = this.latencyMs < 0 ? ms : this.latencyMs + LATENCY_ALPHA * (ms - this.latencyMs)
  }

  snapshot (): TargetSnapshot {
    return {
      url: this.url,
      upstream: this.upstream,
      state: this.state,
      available: this.available,
      backup: this.backup,
      weight: this.weight,
      effectiveWeight: this.effectiveWeight,
      maxConnections: this.maxConnections,
      inflight: this.inflight,
      requests: this.requests,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      ejectedUntil: this.ejectedUntil === 0 ? null : this.ejectedUntil,
      latencyMs: this.latencyMs < 0 ? null : Math.round(this.latencyMs * 1000) / 1000,
      since: this.since,
      lastCheck: this.lastCheck
    }
  }
}
