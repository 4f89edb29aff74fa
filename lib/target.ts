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
  /** EWMA of response time (to response headers) of real traffic, ms; null before the first response. */
  latencyMs: number | null
  /** When the state last changed (ms since the epoch). */
  since: number
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
  latencyMs = -1

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

  /** Whether a new request may go here now: available and under its in-flight cap. */
  canTake (): boolean {
    return this.state === 'healthy' && (this.maxConnections === 0 || this.inflight < this.maxConnections)
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
      latencyMs: this.latencyMs < 0 ? null : Math.round(this.latencyMs * 1000) / 1000,
      since: this.since
    }
  }
}
