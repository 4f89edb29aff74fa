import { invalid, pick, type Plain } from '../options/option-reader.js'
import { readRouteSettings } from '../options/route-options.js'
import { ROUTE_SETTING_KEYS } from '../options/schema/upstream.js'
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

/**
 * Reads `routes` of the file (its shape checked by the file's schema). Without it the gateway
 * proxies every path to the default upstream, unchanged: the one-upstream file needs no routes at all.
 */
export function readRoutes (value: Plain[] | undefined, options: NormalizedOptions): RouteConfig[] {
  if (value === undefined) return [{ prefix: '', rewritePrefix: '', upstream: options.defaultUpstream }]
  const seen = new Map<string, number>()
  return value.map((entry, i) => {
    const path = `routes[${i}]`
    const route = readRoute(entry, path, options)
    const earlier = seen.get(route.prefix)
    if (earlier !== undefined) throw invalid(`${path}.prefix`, `unique (routes[${earlier}] has it too)`, entry.prefix)
    seen.set(route.prefix, i)
    return route
  })
}

function readRoute (object: Plain, path: string, options: NormalizedOptions): RouteConfig {
  const prefix = withoutSlash(object.prefix as string)
  const rewritePrefix = object.rewritePrefix === undefined ? prefix : withoutSlash(object.rewritePrefix as string)
  const name = pick(object, 'upstream', options.defaultUpstream)
  const pool = options.upstreams.get(name)
  if (pool === undefined) {
    throw invalid(`${path}.upstream`, `the name of an upstream (${[...options.upstreams.keys()].join(', ')})`, name)
  }
  const own = ROUTE_SETTING_KEYS.filter((key) => object[key] !== undefined)
  if (own.length === 0) return { prefix, rewritePrefix, upstream: name }
  // Read here for the file's path in the message (a rule across keys); the plugin reads it again when the route is added.
  readRouteSettings(object, path, pool)
  const upstream: Record<string, unknown> = { name }
  for (const key of own) upstream[key] = object[key]
  return { prefix, rewritePrefix, upstream: upstream as RouteUpstreamOption }
}

function withoutSlash (value: string): string {
  return value.endsWith('/') ? value.slice(0, -1) : value
}
