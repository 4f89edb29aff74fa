import type { FastifyRequest } from 'fastify'
import type { HealthCheckOptions, NormalizedHealthCheck } from './health-check-options.js'
import type { NormalizedRetry, RetryOptions } from './retry-options.js'
import type { MetricsOptions, NormalizedMetrics } from './metrics-options.js'
import type { NormalizedTracing, TracingOptions } from './tracing-options.js'
import type { NormalizedWebSocket, WebSocketOptions } from './websocket-options.js'
import type { AffinityOptions, NormalizedAffinity } from './affinity-options.js'
import type { NormalizedStatus, StatusOptions } from './status-options.js'
import type { NormalizedResolver, NormalizedSource, NormalizedTarget, ResolverOptions, TargetInput } from './target-types.js'

export type { HealthCheckExpect, HealthCheckOptions, NormalizedHealthCheck } from './health-check-options.js'
export type { NormalizedRetry, RetryBudgetSettings, RetryOn, RetryOptions } from './retry-options.js'
export type { MetricsOptions, MetricsRegistry, NormalizedMetrics } from './metrics-options.js'
export type { NormalizedTracing, TracingOptions } from './tracing-options.js'
export type { NormalizedStatus, StatusGuard, StatusOptions } from './status-options.js'
export type {
  DiscoveredTarget, DiscoveredTargetTemplate, DiscoveryContext, DiscoverySettings, DnsTargetOptions, NormalizedDnsSource,
  NormalizedProviderSource, NormalizedResolver, NormalizedSource, NormalizedSrvSource, NormalizedTarget, NormalizedTemplate,
  ProviderTargetOptions, ResolverOptions, SrvTargetOptions, TargetInput, TargetOptions
} from './target-types.js'

// Public option types (what users write) and the normalised forms the rest of the code reads.
// Options are validated once, at register; nothing on the request path re-checks them.

export type BalancerName =
  | 'round-robin'
  | 'random'
  | 'least-connections'
  | 'p2c'
  | 'least-latency'
  | 'consistent-hash'
  | 'ip-hash'
  | 'first'

/** What a hash-based balancer hashes: client IP, URL, a header, a cookie, or your own function. */
export type HashKeyOption = 'ip' | 'url' | `header:${string}` | `cookie:${string}` | ((request: FastifyRequest) => string)

export interface TimeoutOptions {
  /** Time to open a connection (TCP and TLS), ms. Default 5000. */
  connectTimeout?: number
  /** Time from sending the request to the response headers, ms. Default 30000. */
  responseTimeout?: number
  /** Longest pause between two chunks of the response body, ms. Default 30000. */
  bodyTimeout?: number
  /**
   * Longest pause between two chunks of a request body streamed from the client to a target, ms.
   * Default 60000; 0 turns it off. A client that pauses longer gets 408; the target is not charged.
   */
  clientBodyTimeout?: number
}

/** Settings shared by every upstream; at the top level they are the defaults of each named upstream. */
export interface UpstreamSettings extends TimeoutOptions {
  balancer?: BalancerName
  hashKey?: HashKeyOption
  /**
   * Bounded-load factor for consistent hashing: a target takes at most this multiple of the
   * average in-flight load before its keys spill to the next target on the ring. Default 1.25; 0 turns it off.
   */
  hashBalanceFactor?: number
  /** Verify upstream TLS certificates. Default true. */
  tlsRejectUnauthorized?: boolean
  /** Connections kept per target. Default 128. */
  connections?: number
  /** HTTP/1.1 pipelining depth per connection. Default 1 (no pipelining). */
  pipelining?: number
  /** Passive health (failures of real traffic eject a target for a while). On by default; false turns it off. */
  passive?: boolean | PassiveOptions
  /** Ramp-up window (ms) of a target that comes back: its weight goes from 10 % to 100 %. Default 0 (off). */
  slowStart?: number
  /**
   * When fewer than this percentage (0 to 100) of the pool's targets are available (and no backup is),
   * balance over every target that is not disabled or draining instead of failing (Envoy's panic mode).
   * Default 0 (off).
   */
  panicPercent?: number
  /** Active health checks: probe every target periodically. Off unless set; `true` for all defaults. */
  healthCheck?: HealthCheckOptions | boolean
  /** Failover of a failed request to another target. On by default (2 extra tries); false turns it off. */
  retry?: RetryOptions | boolean
  /** How `dns` and `srv` targets are looked up and how often. */
  resolver?: ResolverOptions
  /** Tunnel WebSocket upgrades to a balanced target (handshake first, with failover). Off unless set; `true` for all defaults. */
  websocket?: WebSocketOptions | boolean
  /** Session affinity through a signed cookie the proxy issues. Off unless set. */
  affinity?: AffinityOptions | false
}

export interface PassiveOptions {
  /** Failures within `failWindow` that eject a target. Default 5. */
  maxFails?: number
  /** Sliding window (ms) in which `maxFails` failures must fall. Default 10000. */
  failWindow?: number
  /** First ejection (ms); each consecutive one doubles it up to `maxEjectTime`. Default 30000. */
  ejectTime?: number
  /** Longest ejection, ms. Default 300000. */
  maxEjectTime?: number
  /** Most of a pool's targets (percent) passive health may eject at once; at least one of 2+. Default 50. */
  maxEjectedPercent?: number
  /** Response statuses that count as failures: 5xx only. Default [502, 503, 504]. */
  statuses?: number[]
}

export interface UpstreamOptions extends UpstreamSettings {
  targets: TargetInput[]
}

export interface LollyOptions extends UpstreamSettings {
  /** Targets of the single pool named 'default'. Not allowed together with `upstreams`. */
  targets?: TargetInput[]
  /** Several named pools. */
  upstreams?: Record<string, UpstreamOptions>
  /** The pool used by routes that name none. Default: 'default', or the only/first named pool. */
  defaultUpstream?: string
  /** Set X-Forwarded-For, -Proto and -Host from Fastify's view of the request (trustProxy). Default true. */
  xForwarded?: boolean
  /** The live status page and its JSON and event stream. Off unless set; `true` serves '/lolly' to loopback clients. */
  status?: boolean | StatusOptions
  /** Prometheus metrics through prom-client (an optional peer dependency). Off unless set. */
  metrics?: boolean | MetricsOptions
  /**
   * OpenTelemetry traces of proxied requests: a client span per try. On by default, which traces
   * when @opentelemetry/api (an optional peer dependency) is installed and an SDK is registered;
   * `false` turns it off, `{ probes: true }` traces active health probes too.
   */
  tracing?: boolean | TracingOptions
  /**
   * Request Content-Types (besides application/json) whose parsed bodies are sent on as JSON, as
   * @fastify/reply-from's option of the same name: for bodies a content-type parser turned into objects.
   */
  contentTypesToEncode?: string[]
  /** @fastify/reply-from's per-request info lines ('fetching from remote server', 'response received'). Default true: off. */
  disableRequestLogging?: boolean
  /** Size of @fastify/reply-from's cache of built URLs. Default 100. */
  cacheURLs?: number
  /** Turns @fastify/reply-from's URL cache off. Default false. */
  disableCache?: boolean
}

/** A route's `config.upstream`: a pool name, or a pool name with a balancer of the route's own. */
export type RouteUpstreamOption = string | {
  name?: string
  balancer?: BalancerName
  hashKey?: HashKeyOption
  /** Overrides the pool's hashBalanceFactor for this route. */
  hashBalanceFactor?: number
  /** Overrides the pool's failover for this route; false turns it off. */
  retry?: RetryOptions | boolean
  /** Overrides the pool's responseTimeout (time to response headers, per try) for this route, ms. */
  responseTimeout?: number
  /** Overrides the pool's bodyTimeout for this route, ms. */
  bodyTimeout?: number
  /** Overrides the pool's clientBodyTimeout for this route, ms; 0 turns it off. */
  clientBodyTimeout?: number
  /** Tunnel WebSocket upgrades on this route (true) or refuse them (false); default: the pool's `websocket`. */
  websocket?: boolean
  /** The route's own session affinity, or false for none; default: the pool's `affinity`. */
  affinity?: AffinityOptions | false
}

// ---- normalised forms ----

export type HashKey =
  | { kind: 'ip' }
  | { kind: 'url' }
  | { kind: 'header', name: string }
  | { kind: 'cookie', name: string }
  | { kind: 'function', fn: (request: FastifyRequest) => string }

export interface BalancerSpec {
  name: BalancerName
  hashKey: HashKey
  hashBalanceFactor: number
}

export interface PassiveSettings {
  maxFails: number
  failWindow: number
  ejectTime: number
  maxEjectTime: number
  maxEjectedPercent: number
  statuses: readonly number[]
}

export interface NormalizedUpstream {
  name: string
  /** The targets written as URLs (or objects with a url). */
  targets: NormalizedTarget[]
  /** The entries that discover targets: `dns`, `srv`, `discover`. */
  sources: NormalizedSource[]
  resolver: NormalizedResolver
  balancer: BalancerSpec
  tlsRejectUnauthorized: boolean
  connections: number
  pipelining: number
  connectTimeout: number
  responseTimeout: number
  bodyTimeout: number
  clientBodyTimeout: number
  passive: PassiveSettings | false
  slowStart: number
  /** 0 to 100; 0 is off. */
  panicPercent: number
  /** null: no active checks. */
  healthCheck: NormalizedHealthCheck | null
  retry: NormalizedRetry
  websocket: NormalizedWebSocket
  /** null: no session affinity. */
  affinity: NormalizedAffinity | null
}

export interface NormalizedOptions {
  upstreams: Map<string, NormalizedUpstream>
  defaultUpstream: string
  xForwarded: boolean
  /** null: no status page. */
  status: NormalizedStatus | null
  /** null: no metrics. */
  metrics: NormalizedMetrics | null
  /** null: no tracing. */
  tracing: NormalizedTracing | null
  replyFrom: NormalizedReplyFrom
}

/** The options of @fastify/reply-from that fastify-lolly hands to the reply-from it hosts. */
export interface NormalizedReplyFrom {
  contentTypesToEncode: string[]
  disableRequestLogging: boolean
  cacheURLs: number
  disableCache: boolean
}
