import type { NormalizedUpstream } from './types.js'
import { readBalancerSpec } from './balancer-options.js'
import { readBoolean, readDuration, readInteger, readNumber, type Plain } from './option-reader.js'
import { DEFAULT_PASSIVE, readPassive } from './passive-options.js'
import { readHealthCheck } from './health-check-options.js'
import { DEFAULT_RETRY, readRetry } from './retry-options.js'
import { DEFAULT_RESOLVER, readResolver } from './resolver-options.js'
import { readTargetEntries } from './target-entries.js'
import { DEFAULT_WEBSOCKET, readWebSocket } from './websocket-options.js'
import { readAffinity } from './affinity-options.js'

/** Keys that configure a pool; at the top level (with `upstreams`) they are every pool's defaults. */
export const UPSTREAM_SETTING_KEYS = [
  'balancer', 'hashKey', 'hashBalanceFactor', 'tlsRejectUnauthorized', 'connections', 'pipelining',
  'connectTimeout', 'responseTimeout', 'bodyTimeout', 'clientBodyTimeout',
  'passive', 'slowStart', 'panicPercent', 'healthCheck', 'retry', 'resolver', 'websocket', 'affinity'
] as const

export type UpstreamSettingsNormalized = Omit<NormalizedUpstream, 'name' | 'targets' | 'sources'>

export const DEFAULT_SETTINGS: UpstreamSettingsNormalized = {
  balancer: { name: 'round-robin', hashKey: { kind: 'ip' }, hashBalanceFactor: 1.25 },
  tlsRejectUnauthorized: true,
  connections: 128,
  pipelining: 1,
  // undici's is 10 s, nginx's 60 s, Envoy's 5 s. A host that vanished (packets dropped, no RST) costs
  // every request sent its way this long before it moves on, and its ejection waits for these
  // timeouts: measured with a blackholed target under load (test/faults/blackhole.test.ts), the
  // slowest request took 5.5 s at 5 s and 2.5 s at 2 s. 2 s still covers one lost SYN (TCP's first
  // retransmission comes after 1 s, RFC 6298) plus a TLS handshake over a 200 ms round trip; a
  // connection on a LAN opens in under a millisecond.
  connectTimeout: 2_000,
  responseTimeout: 30_000,
  bodyTimeout: 30_000,
  // nginx's client_body_timeout: a client that stops sending its body would hold a target's connection.
  clientBodyTimeout: 60_000,
  passive: DEFAULT_PASSIVE,
  // Off like nginx's slow_start and Envoy's slow start: ramping delays a recovered target's full share.
  slowStart: 0,
  // Off (Envoy's default is 50 %): sending traffic to targets known to be down is a choice to make knowingly.
  panicPercent: 0,
  // Off: probes are traffic the targets must be ready to answer (a health endpoint), so they are opt-in.
  healthCheck: null,
  // On (see retry-options.ts): a dead target behind a balancer should not cost clients errors.
  retry: DEFAULT_RETRY,
  resolver: DEFAULT_RESOLVER,
  websocket: DEFAULT_WEBSOCKET,
  // Off: a sticky cookie is a promise to the client that only an operator who chose it can keep.
  affinity: null
}

/** Reads the pool-level settings of `object` over `inherited` (top-level defaults or the built-ins). */
export function readUpstreamSettings (object: Plain, path: string, inherited: UpstreamSettingsNormalized): UpstreamSettingsNormalized {
  return {
    balancer: readBalancerSpec(object, path, inherited.balancer),
    tlsRejectUnauthorized: readBoolean(object, 'tlsRejectUnauthorized', path, inherited.tlsRejectUnauthorized),
    connections: readInteger(object, 'connections', path, inherited.connections, { min: 1, max: 65_536 }),
    pipelining: readInteger(object, 'pipelining', path, inherited.pipelining, { min: 1, max: 128 }),
    connectTimeout: readDuration(object, 'connectTimeout', path, inherited.connectTimeout),
    responseTimeout: readDuration(object, 'responseTimeout', path, inherited.responseTimeout),
    bodyTimeout: readDuration(object, 'bodyTimeout', path, inherited.bodyTimeout),
    clientBodyTimeout: readDuration(object, 'clientBodyTimeout', path, inherited.clientBodyTimeout, 0),
    passive: readPassive(object, path, inherited.passive),
    slowStart: readDuration(object, 'slowStart', path, inherited.slowStart, 0),
    panicPercent: readNumber(object, 'panicPercent', path, inherited.panicPercent, 0, 100),
    healthCheck: readHealthCheck(object, path, inherited.healthCheck),
    retry: readRetry(object, path, inherited.retry),
    resolver: readResolver(object, path, inherited.resolver),
    websocket: readWebSocket(object, path, inherited.websocket),
    affinity: readAffinity(object, path, inherited.affinity)
  }
}

export function readUpstream (name: string, object: Plain, path: string, inherited: UpstreamSettingsNormalized): NormalizedUpstream {
  return { name, ...readTargetEntries(object, 'targets', path), ...readUpstreamSettings(object, path, inherited) }
}
