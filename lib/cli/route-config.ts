import { checkKeys, invalid, readObject, readString, type Plain } from '../options/option-reader.js'
import { readRouteSettings, ROUTE_SETTING_KEYS } from '../options/route-options.js'
import type { NormalizedOptions, RouteUpstreamOption } from '../options/types.js'

/** One `routes[]` entry of the file, checked: what the gateway registers. */
export interface RouteConfig {
  /** Path prefix without a trailing slash; '' for the root. */
  prefix: string
  /** What replaces `prefix` in the path sent upstream, without a trailing slash ('' strips it). */
  rewritePrefix: string
  /** The route's `config.upstream`: a pool name, or a pool name with settings of the route's own. */
  upstream: RouteUpstreamOption
}

// A file's route takes every setting a plugin route's config.upstream takes, beside its own keys.
const ROUTE_KEYS = ['prefix', 'upstream', 'rewritePrefix', ...ROUTE_SETTING_KEYS]
// Literal path segments only: ':' and '*' are route syntax in Fastify, '%' would make the prefix
// compare differently to the raw request path it is stripped from, '?' and '#' end a path.
const PATH = /^(\/[A-Za-z0-9._~!$&'()+,;=@-]+)*\/?$/

/**
 * Reads `routes` of the file. Without it the gateway proxies every path to the default upstream,
 * unchanged: the one-upstream file needs no routes at all.
 */
export function readRoutes (value: unknown, options: NormalizedOptions): RouteConfig[] {
  if (value === undefined) return [{ prefix: '', rewritePrefix: '', upstream: options.defaultUpstream }]
  if (!Array.isArray(value) || value.length === 0) throw invalid('routes', 'a non-empty array of { prefix, upstream, rewritePrefix }', value)
  const seen = new Map<string, number>()
  return value.map((entry, i) => {
    const path = `routes[${i}]`
    const route = readRoute(readObject(entry, path), path, options)
    const earlier = seen.get(route.prefix)
    if (earlier !== undefined) throw invalid(`${path}.prefix`, `unique (routes[${earlier}] has it too)`, (entry as Plain).prefix)
    seen.set(route.prefix, i)
    return route
  })
}

function readRoute (object: Plain, path: string, options: NormalizedOptions): RouteConfig {
  checkKeys(object, ROUTE_KEYS, path)
  if (object.prefix === undefined) throw invalid(`${path}.prefix`, 'a path such as \'/api\'', undefined)
  const prefix = readPathPrefix(object, 'prefix', path)
  const rewritePrefix = object.rewritePrefix === undefined ? prefix : readPathPrefix(object, 'rewritePrefix', path)
  const name = readString(object, 'upstream', path, options.defaultUpstream)
  const pool = options.upstreams.get(name)
  if (pool === undefined) {
    throw invalid(`${path}.upstream`, `the name of an upstream (${[...options.upstreams.keys()].join(', ')})`, name)
  }
  const own = ROUTE_SETTING_KEYS.filter((key) => object[key] !== undefined)
  if (own.length === 0) return { prefix, rewritePrefix, upstream: name }
  // Checked here for the file's path in the message; the plugin checks it again when the route is added.
  readRouteSettings(object, path, pool)
  const upstream: Record<string, unknown> = { name }
  for (const key of own) upstream[key] = object[key]
  return { prefix, rewritePrefix, upstream: upstream as RouteUpstreamOption }
}

function readPathPrefix (object: Plain, key: string, path: string): string {
  const value = object[key]
  if (typeof value !== 'string' || !PATH.test(value)) {
    throw invalid(`${path}.${key}`, 'a path starting with / made of literal segments (no :param, *, %, ? or #)', value)
  }
  return value.endsWith('/') ? value.slice(0, -1) : value
}
