import type { NormalizedUpstream } from './types.js'
import { readBalancerSpec } from './balancer-options.js'
import { readBoolean, readDuration, readInteger, type Plain } from './option-reader.js'
import { readTargetList } from './target-options.js'

/** Keys that configure a pool; at the top level (with `upstreams`) they are every pool's defaults. */
export const UPSTREAM_SETTING_KEYS = [
  'balancer', 'hashKey', 'hashBalanceFactor', 'tlsRejectUnauthorized', 'connections', 'pipelining',
  'connectTimeout', 'responseTimeout', 'bodyTimeout'
] as const

export type UpstreamSettingsNormalized = Omit<NormalizedUpstream, 'name' | 'targets'>

export const DEFAULT_SETTINGS: UpstreamSettingsNormalized = {
  balancer: { name: 'round-robin', hashKey: { kind: 'ip' }, hashBalanceFactor: 1.25 },
  tlsRejectUnauthorized: true,
  connections: 128,
  pipelining: 1,
  // Far below undici's 300 s: a proxy that waits five minutes for a dead upstream holds the client hostage.
  connectTimeout: 5_000,
  responseTimeout: 30_000,
  bodyTimeout: 30_000
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
    bodyTimeout: readDuration(object, 'bodyTimeout', path, inherited.bodyTimeout)
  }
}

export function readUpstream (name: string, object: Plain, path: string, inherited: UpstreamSettingsNormalized): NormalizedUpstream {
  return { name, targets: readTargetList(object, 'targets', path), ...readUpstreamSettings(object, path, inherited) }
}
