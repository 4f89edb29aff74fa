import { readBalancerSpec } from './balancer-options.js'
import { pick, type Plain } from './option-reader.js'
import { readRetry, type NormalizedRetry } from './retry-options.js'
import { readAffinity, type NormalizedAffinity } from './affinity-options.js'
import type { BalancerSpec, NormalizedUpstream } from './types.js'

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

/** Reads the route settings of `object`, checked by the schema of a route (schema/plugin.ts, cli/gateway-schema.ts). */
export function readRouteSettings (object: Plain, path: string, upstream: NormalizedUpstream): NormalizedRouteSettings {
  const ownPolicy = object.balancer !== undefined || object.hashKey !== undefined || object.hashBalanceFactor !== undefined
  return {
    balancer: ownPolicy ? readBalancerSpec(object, path, upstream.balancer) : undefined,
    retry: readRetry(object, path, upstream.retry),
    // undici takes headersTimeout and bodyTimeout per request; connectTimeout belongs to the target's connection pool.
    headersTimeout: object.responseTimeout as number | undefined,
    bodyTimeout: object.bodyTimeout as number | undefined,
    clientBodyTimeout: pick(object, 'clientBodyTimeout', upstream.clientBodyTimeout),
    websocket: pick(object, 'websocket', upstream.websocket.enabled),
    affinity: readAffinity(object, path, upstream.affinity)
  }
}
