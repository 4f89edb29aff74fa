import { readBalancerSpec } from './balancer-options.js'
import { readBoolean, readDuration, type Plain } from './option-reader.js'
import { readRetry, type NormalizedRetry } from './retry-options.js'
import { readAffinity, type NormalizedAffinity } from './affinity-options.js'
import type { BalancerSpec, NormalizedUpstream } from './types.js'

/** What a route may set over its upstream's settings: in a plugin route's `config.upstream` and in a `lolly` file's route alike. */
export const ROUTE_SETTING_KEYS = ['balancer', 'hashKey', 'hashBalanceFactor', 'retry', 'responseTimeout', 'bodyTimeout', 'clientBodyTimeout', 'websocket', 'affinity'] as const

/** A route's own settings, read over its upstream's. */
export interface NormalizedRouteSettings {
  /** The route's balancing policy; undefined when it keeps its upstream's. */
  balancer: BalancerSpec | undefined
  retry: NormalizedRetry
  /** undici's headersTimeout for each try (the route's responseTimeout), ms; undefined keeps the upstream's. */
  headersTimeout: number | undefined
  bodyTimeout: number | undefined
  /** Longest pause in a request body streamed from the client, ms, 0 for none: the upstream's unless the route set its own. */
  clientBodyTimeout: number
  /** Whether WebSocket upgrades are tunnelled on the route. */
  websocket: boolean
  /** The route's session affinity (its upstream's unless it set its own); null for none. */
  affinity: NormalizedAffinity | null
}

/** Reads the route settings of `object` (keys outside ROUTE_SETTING_KEYS are the caller's to check). */
export function readRouteSettings (object: Plain, path: string, upstream: NormalizedUpstream): NormalizedRouteSettings {
  const ownPolicy = object.balancer !== undefined || object.hashKey !== undefined || object.hashBalanceFactor !== undefined
  return {
    balancer: ownPolicy ? readBalancerSpec(object, path, upstream.balancer) : undefined,
    retry: readRetry(object, path, upstream.retry),
    // undici takes headersTimeout and bodyTimeout per request; connectTimeout belongs to the target's connection pool.
    headersTimeout: object.responseTimeout === undefined ? undefined : readDuration(object, 'responseTimeout', path, 0),
    bodyTimeout: object.bodyTimeout === undefined ? undefined : readDuration(object, 'bodyTimeout', path, 0),
    clientBodyTimeout: readDuration(object, 'clientBodyTimeout', path, upstream.clientBodyTimeout, 0),
    websocket: readBoolean(object, 'websocket', path, upstream.websocket.enabled),
    affinity: readAffinity(object, path, upstream.affinity)
  }
}
