import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { InvalidOptionError } from '../errors.js'
import { invalid, isPlainObject, show } from '../options/option-reader.js'
import { readRouteSettings } from '../options/route-options.js'
import { schemaCheck } from '../options/schema-check.js'
import { routeUpstreamSchema } from '../options/schema/plugin.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import { affinityCookie, poolDestination, type Destination } from '../proxy/destination.js'

/** Where a route's destination is kept: in its config (Fastify copies symbol keys), and on the reply while its handler runs. */
const kDestination = Symbol('fastify-lolly.destination')

const checkRouteUpstream = schemaCheck(routeUpstreamSchema, 'config.upstream')

type RouteConfig = { upstream?: unknown, [kDestination]?: Destination }
type ReplyWithDestination = FastifyReply & { [kDestination]: Destination | null | undefined }

/**
 * Where each route's reply.from() goes. Every route added after the plugin is bound once, when it
 * is added (like @fastify/rate-limit): its `config.upstream` is read into the Destination its
 * reply.from() needs (pool, balancer set, failover and timeouts), so a route naming an upstream that
 * does not exist fails at startup, not on its first request. The route's handler is wrapped to hand
 * the destination to the reply before it runs: one field write per request, where
 * `request.routeOptions` would build an object of twelve.
 */
export class RouteDestinations {
  private readonly pools: ReadonlyMap<string, UpstreamPool>
  private readonly defaultPool: UpstreamPool
  /** Each pool with its own policy and settings: what routes that set nothing more share. */
  private readonly own: ReadonlyMap<UpstreamPool, Destination>
  /** Some pool or bound route tunnels WebSocket upgrades. */
  private websocket: boolean

  constructor (pools: ReadonlyMap<string, UpstreamPool>, defaultPool: UpstreamPool) {
    this.pools = pools
    this.defaultPool = defaultPool
    this.own = new Map([...pools.values()].map((pool) => [pool, poolDestination(pool)]))
    this.websocket = [...pools.values()].some((pool) => pool.config.websocket.enabled)
  }

  /** Whether some pool, or some route bound so far, tunnels WebSocket upgrades. */
  get tunnelling (): boolean {
    return this.websocket
  }

  /** Binds the routes added to `app` (and its children) from now on. */
  install (app: FastifyInstance): void {
    app.decorateReply(kDestination, null)
    app.addHook('onRoute', (routeOptions: RouteOptions) => {
      const config = (routeOptions.config ?? {}) as RouteConfig
      const destination = config[kDestination] = this.bind(config.upstream, describeRoute(routeOptions))
      routeOptions.config = config as RouteOptions['config']
      const handler = routeOptions.handler
      routeOptions.handler = function lollyRoute (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
        (reply as ReplyWithDestination)[kDestination] = destination
        return handler.call(this, request, reply)
      }
    })
  }

  /** The destination of the route `reply` answers. */
  of (reply: FastifyReply): Destination {
    // Undefined, not null, in a scope made before the plugin decorated the reply.
    const bound = (reply as ReplyWithDestination)[kDestination]
    if (bound != null) return bound
    const request = reply.request
    // A not-found handler is no route and names no upstream: the default one.
    if (request.is404) return this.own.get(this.defaultPool)!
    // reply.from() called from one of the route's hooks, before its handler: the route's config has it.
    const routeOptions = request.routeOptions
    const config = routeOptions.config as RouteConfig
    const configured = config[kDestination]
    if (configured !== undefined) return configured
    // A route the plugin never saw: added before it was registered, as with `app.register(lolly)` not
    // awaited (reply-from works in any order). Bound now, once; a bad `config.upstream` then fails
    // its requests (500) instead of startup, and each request reads routeOptions (an object of twelve).
    return (config[kDestination] = this.bind(config.upstream, `${request.method} ${routeOptions.url}`))
  }

  /** Reads a route's `config.upstream` (a name, or an object with a name and the route's own settings). */
  private bind (value: unknown, route: string): Destination {
    const path = `route ${route}: config.upstream`
    if (value === undefined) return this.own.get(this.defaultPool)!
    let name: unknown = this.defaultPool.name
    let object: Record<string, unknown> | undefined
    if (typeof value === 'string') {
      name = value
    } else if (isPlainObject(value)) {
      checkRouteUpstream(value, path)
      object = value
      if (value.name !== undefined) name = value.name
    } else {
      throw invalid(path, 'an upstream name or an object { name, balancer, hashKey, retry, ... }', value)
    }
    const pools = this.pools
    const pool = typeof name === 'string' ? pools.get(name) : undefined
    if (pool === undefined) {
      // show() for anything but a string: JSON.stringify throws on a BigInt and prints nothing for a symbol.
      const shown = typeof name === 'string' ? JSON.stringify(name) : show(name)
      throw new InvalidOptionError(`${path} names upstream ${shown}, which does not exist (known: ${[...pools.keys()].join(', ')})`)
    }
    if (object === undefined) return this.own.get(pool)!
    const { balancer, affinity, ...settings } = readRouteSettings(object, path, pool.config)
    if (settings.websocket) this.websocket = true
    const own = this.own.get(pool)!.settings.affinity
    return {
      pool,
      balancers: balancer === undefined ? pool.balancers : pool.balancerSet(balancer),
      // The pool's cookie when the route set none of its own: one cache of verified cookies.
      settings: { ...settings, affinity: affinity === pool.config.affinity ? own : affinityCookie(pool, affinity) }
    }
  }
}

function describeRoute (routeOptions: RouteOptions): string {
  const method = Array.isArray(routeOptions.method) ? routeOptions.method.join(',') : routeOptions.method
  return `${method} ${routeOptions.url}`
}
