import type { RouteOptions } from 'fastify'
import type { BalancerSet } from './balancer-set.js'
import { InvalidOptionError } from './errors.js'
import { readBalancerSpec } from './options/balancer-options.js'
import { checkKeys, invalid, isPlainObject } from './options/option-reader.js'
import type { UpstreamPool } from './upstream-pool.js'

/** Where a route's reply.from() goes: a pool and the balancing policy the route asked for. */
export interface RouteBinding {
  pool: UpstreamPool
  balancers: BalancerSet
}

/** Symbol under which the binding is stored in the route's config (Fastify copies symbol keys). */
export const kRouteBinding = Symbol('fastify-lolly.route-binding')

const ROUTE_KEYS = ['name', 'balancer', 'hashKey', 'hashBalanceFactor']

/**
 * Validates a route's `config.upstream` once, when the route is added (like @fastify/rate-limit),
 * so a route naming an upstream that does not exist fails at startup, not on its first request.
 */
export function bindRoute (value: unknown, route: string, pools: Map<string, UpstreamPool>, defaultPool: UpstreamPool): RouteBinding {
  const path = `route ${route}: config.upstream`
  if (value === undefined) return { pool: defaultPool, balancers: defaultPool.balancers }
  let name: unknown = defaultPool.name
  let object: Record<string, unknown> | undefined
  if (typeof value === 'string') {
    name = value
  } else if (isPlainObject(value)) {
    checkKeys(value, ROUTE_KEYS, path)
    object = value
    if (value.name !== undefined) name = value.name
  } else {
    throw invalid(path, 'an upstream name or an object { name, balancer, hashKey }', value)
  }
  const pool = typeof name === 'string' ? pools.get(name) : undefined
  if (pool === undefined) {
    throw new InvalidOptionError(`${path} names upstream ${JSON.stringify(name)}, which does not exist (known: ${[...pools.keys()].join(', ')})`)
  }
  if (object === undefined || (object.balancer === undefined && object.hashKey === undefined && object.hashBalanceFactor === undefined)) {
    return { pool, balancers: pool.balancers }
  }
  return { pool, balancers: pool.balancerSet(readBalancerSpec(object, path, pool.config.balancer)) }
}

export function describeRoute (routeOptions: RouteOptions): string {
  const method = Array.isArray(routeOptions.method) ? routeOptions.method.join(',') : routeOptions.method
  return `${method} ${routeOptions.url}`
}
