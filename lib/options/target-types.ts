// The targets list's entries: what users write (a URL, target options, or a discovery source) and
// their normalised forms. Re-exported by types.ts; kept apart because discovery made them many.

export interface TargetOptions {
  /** http: or https: origin, optionally with a base path (`http://10.0.0.1:8080/api`). */
  url: string
  /**
   * What the status page, snapshots and events call it (`api-1`); unique among the targets listed in its upstream (a DNS or SRV source names all of its
   * targets after the name it looks up). Default
   * none: the page shows its host and port.
   */
  name?: string
  /** Share of traffic relative to the other targets; an integer from 1 to 1000000. Default 1. */
  weight?: number
  /** Only used when no primary target can take traffic. Default false. */
  backup?: boolean
  /** Configured out: never receives traffic until enabled at runtime. Default false. */
  down?: boolean
  /** Cap on in-flight requests to this target; 0 means no cap. Default 0. */
  maxConnections?: number
}

/**
 * A target a discovery source reports: target options (but `down`, which is the operator's), plus
 * `state: 'draining'` for an instance that is terminating.
 */
export type DiscoveredTarget = string | (Omit<TargetOptions, 'down'> & {
  /** 'draining': the instance is going away (Kubernetes `terminating`): no new requests, in-flight ones finish. */
  state?: 'ready' | 'draining'
})

/** Settings every discovery entry (`dns`, `srv`, `discover`) shares. */
export interface DiscoverySettings {
  /**
   * Most targets this source contributes; a larger answer keeps ready targets first, then earlier
   * tiers, then URL order (the same on every gateway), and says so in the log. Default 1000.
   */
  maxTargets?: number
  /**
   * How long a target that left the answer stays, draining, ready to come back with its state (ms);
   * it closes once that time passed and its in-flight requests finished. HAProxy's `hold obsolete`.
   * Default 10000.
   */
  hold?: number
}

/** Settings of the targets a DNS entry makes, as a static target's. */
export interface DiscoveredTargetTemplate {
  /** Weight of each target (an SRV record's own weight scales it). Default 1. */
  weight?: number
  /** Only used when no primary target can take traffic. Default false. */
  backup?: boolean
  /** Cap on in-flight requests to each target; 0 means no cap. Default 0. */
  maxConnections?: number
  /** Address families to resolve: 4 (A), 6 (AAAA) or 'both'. Default 'both', as nginx's `resolve`. */
  family?: 4 | 6 | 'both'
}

/** Every A/AAAA address of a URL's hostname is a target with the URL's scheme, port and base path. */
export interface DnsTargetOptions extends DiscoverySettings, DiscoveredTargetTemplate {
  /** `http://api.internal:8080/base`: the name is sent as Host and, for https, as SNI and checked against the certificate. */
  dns: string
}

/** Every record of an SRV name (RFC 2782) is a target: its host resolved, its port, its priority and weight. */
export interface SrvTargetOptions extends DiscoverySettings, DiscoveredTargetTemplate {
  /** `_http._tcp.api.service.consul`. */
  srv: string
  /** Scheme of the targets. Default 'http'. */
  protocol?: 'http' | 'https'
  /** Path prefix of every target (`/api`). Default none. */
  basePath?: string
}

/** What a discovery provider is given: aborted when the app closes. */
export interface DiscoveryContext {
  signal: AbortSignal
}

/** A source of targets of your own: each value the iterable yields is the whole current set of that source. */
export interface ProviderTargetOptions extends DiscoverySettings {
  discover: (context: DiscoveryContext) => AsyncIterable<readonly DiscoveredTarget[]>
  /** Names the source in logs, events, snapshots and metrics. Default 'discover', then 'discover#2', ... */
  name?: string
}

export type TargetInput = string | TargetOptions | DnsTargetOptions | SrvTargetOptions | ProviderTargetOptions

/** How DNS entries are looked up and how often (per upstream; at the top level, every upstream's default). */
export interface ResolverOptions {
  /** DNS servers, `host` or `host:port` (`[v6]:port`). Default: the system's. */
  servers?: string[]
  /** Time to wait for one answer before trying again, ms. Default 2000. */
  timeout?: number
  /** Tries per server before a lookup fails. Default 2. */
  tries?: number
  /** Shortest time between two lookups of a name, whatever its TTL (TTL 0 included), ms. Default 1000. */
  minInterval?: number
  /** Longest time between two lookups of a name, whatever its TTL, ms. Default 30000. */
  maxInterval?: number
  /**
   * How long a name may answer empty (NXDOMAIN or no records) before it is believed and its targets
   * leave, ms; until then the last good set keeps serving. Default 30000.
   */
  emptyGrace?: number
}

// ---- normalised forms ----

export interface NormalizedTarget {
  url: string
  origin: string
  /** Path prefix of the target without a trailing slash: '' or '/api'. */
  basePath: string
  /** Its `name`; for a DNS or SRV target the name it was found by (`api.internal:8080`); null when none. */
  name: string | null
  weight: number
  backup: boolean
  down: boolean
  maxConnections: number
  /**
   * Failover tier: 0 for primaries, 1 for backups; an SRV source's priorities make tiers 0, 1, 2, ...
   * A tier takes traffic only when no target of the tiers before it can.
   */
  tier: number
  /**
   * The name a discovered target answers to (`api.internal:8080`): sent as Host and, for https, as SNI
   * instead of its address; null for a target written as a URL.
   */
  virtualHost: string | null
  /** The discovery source that made it (`dns:http://api.internal:8080`); null for a static or runtime target. */
  source: string | null
}

/** What a discovery source gives each target it makes (a DNS entry's template). */
export interface NormalizedTemplate {
  weight: number
  backup: boolean
  maxConnections: number
}

interface NormalizedSourceBase {
  /** Names the source in logs, events, snapshots and metrics; unique within its upstream. */
  name: string
  maxTargets: number
  hold: number
}

/** A `dns` entry: every A/AAAA address of `hostname`. */
export interface NormalizedDnsSource extends NormalizedSourceBase {
  type: 'dns'
  hostname: string
  protocol: 'http:' | 'https:'
  port: number
  basePath: string
  /** 0: both families. */
  family: 0 | 4 | 6
  template: NormalizedTemplate
}

/** An `srv` entry: every record of `service`, its host resolved. */
export interface NormalizedSrvSource extends NormalizedSourceBase {
  type: 'srv'
  service: string
  protocol: 'http:' | 'https:'
  basePath: string
  family: 0 | 4 | 6
  template: NormalizedTemplate
}

/** A `discover` entry: a provider of the user's. */
export interface NormalizedProviderSource extends NormalizedSourceBase {
  type: 'discover'
  discover: (context: DiscoveryContext) => AsyncIterable<readonly DiscoveredTarget[]>
}

export type NormalizedSource = NormalizedDnsSource | NormalizedSrvSource | NormalizedProviderSource

export interface NormalizedResolver {
  /** null: the system's resolvers. */
  servers: string[] | null
  timeout: number
  tries: number
  minInterval: number
  maxInterval: number
  emptyGrace: number
}
