import type { RouteOptions } from 'fastify'
import type { BalancerSet } from './balancer-set.js'
import { InvalidOptionError } from './errors.js'
import { readBalancerSpec } from './options/balancer-options.js'
import { checkKeys, invalid, isPlainObject, readDuration, show } from './options/option-reader.js'
import { readRetry } from './options/retry-options.js'
import type { CallSettings } from './proxy-call.js'
import type { UpstreamPool } from './upstream-pool.js'

/**
 * Where a route's reply.from() goes: a pool and the balancing policy the route asked for, with the
 * route's failover policy and per-try timeouts (CallSettings; absent ones are the pool's).
 */
export interface RouteBinding extends CallSettings {
  pool: UpstreamPool
  balancers: BalancerSet
}

/** Symbol under which the binding is stored in the route's config (Fastify copies symbol keys). */
export const kRouteBinding = Symbol('fastify-lolly.route-binding')

const ROUTE_KEYS = ['name', 'balancer', 'hashKey', 'hashBalanceFactor', 'retry', 'responseTimeout', 'bodyTimeout']

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
    // show() for anything but a string: JSON.stringify throws on a BigInt and prints nothing for a symbol.
    const shown = typeof name === 'string' ? JSON.stringify(name) : show(name)
    throw new InvalidOptionError(`${path} names upstream ${shown}, which does not exist (known: ${[...pools.keys()].join(', ')})`)
  }
  if (object === undefined) return { pool, balancers: pool.balancers }
  const balancers = object.balancer === undefined && object.hashKey === undefined && object.hashBalanceFactor === undefined
    ? pool.balancers
    : pool.balancerSet(readBalancerSpec(object, path, pool.config.balancer))
  // undici takes headersTimeout and bodyTimeout per request; connectTimeout belongs to the target's connection pool.
  const headersTimeout = object.responseTimeout === undefined ? undefined : readDuration(object, 'responseTimeout', path, 0)
  const bodyTimeout = object.bodyTimeout === undefined ? undefined : readDuration(object, 'bodyTimeout', path, 0)
  return { pool, balancers, retry: readRetry(object, path, pool.config.retry), headersTimeout, bodyTimeout }
}

export function describeRoute (routeOptions: RouteOptions): string {
  const method = Array.isArray(routeOptions.method) ? routeOptions.method.join(',') : routeOptions.method
  return `${method} ${routeOptions.url}`
}
