import type { NormalizedUpstream } from './types.js'
import { readBalancerSpec } from './balancer-options.js'
import { pick, type Plain } from './option-reader.js'
import { DEFAULT_PASSIVE, readPassive } from './passive-options.js'
import { readHealthCheck } from './health-check-options.js'
import { DEFAULT_RETRY, readRetry } from './retry-options.js'
import { DEFAULT_RESOLVER, readResolver } from './resolver-options.js'
import { readTargetEntries } from './target-entries.js'
import { DEFAULT_WEBSOCKET, readWebSocket } from './websocket-options.js'
import { readAffinity } from './affinity-options.js'

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
    tlsRejectUnauthorized: pick(object, 'tlsRejectUnauthorized', inherited.tlsRejectUnauthorized),
    connections: pick(object, 'connections', inherited.connections),
    pipelining: pick(object, 'pipelining', inherited.pipelining),
    connectTimeout: pick(object, 'connectTimeout', inherited.connectTimeout),
    responseTimeout: pick(object, 'responseTimeout', inherited.responseTimeout),
    bodyTimeout: pick(object, 'bodyTimeout', inherited.bodyTimeout),
    clientBodyTimeout: pick(object, 'clientBodyTimeout', inherited.clientBodyTimeout),
    passive: readPassive(object, path, inherited.passive),
    slowStart: pick(object, 'slowStart', inherited.slowStart),
    panicPercent: pick(object, 'panicPercent', inherited.panicPercent),
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
