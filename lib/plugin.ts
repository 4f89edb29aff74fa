import type { FastifyInstance, RouteOptions } from 'fastify'
import { buildFrom, hostReplyFrom } from './reply-from-bridge.js'
import { ActiveChecker } from './health/active-checker.js'
import { LollyApi } from './lolly-api.js'
import { LollyRouter } from './lolly-router.js'
import { installMetrics } from './metrics/install-metrics.js'
import { readPluginOptions } from './options/plugin-options.js'
import type { LollyOptions } from './options/types.js'
import { bindRoute, describeRoute, kRouteBinding } from './route-binding.js'
import { createPoolReporter } from './pool-reporter.js'
import { createStateReporter } from './state-reporter.js'
import { registerStatusRoutes } from './status/status-routes.js'
import { UpstreamPool, type PoolHooks } from './upstream-pool.js'

/** The plugin body: validate once, build the pools, wire reply.from, tie everything to the app's lifecycle. */
export async function registerLolly (app: FastifyInstance, rawOptions: LollyOptions): Promise<void> {
  const options = readPluginOptions(rawOptions)

  // The pools need their hooks before `app.lolly` exists to report through; no state can change
  // until the plugin is done registering, so the reporters are attached just below.
  const hooks = { now: Date.now } as PoolHooks
  const pools = new Map<string, UpstreamPool>()
  for (const [name, config] of options.upstreams) pools.set(name, new UpstreamPool(config, hooks))
  const defaultPool = pools.get(options.defaultUpstream)!
  const api = new LollyApi(pools, options.defaultUpstream)
  hooks.onStateChange = createStateReporter(api, app.log)
  const poolReporter = createPoolReporter(api, app.log)
  hooks.onPanic = poolReporter.panic
  hooks.onMembershipChange = poolReporter.membership
  // Made now, so an initialState of 'unhealthy' holds before anything can be proxied; probing starts at onReady.
  const checkers = new Map<string, ActiveChecker>()
  for (const pool of pools.values()) {
    if (pool.config.healthCheck !== null) checkers.set(pool.name, new ActiveChecker(pool, pool.config.healthCheck, pool.config.tlsRejectUnauthorized))
  }
  api.on('target', (change) => checkers.get(change.upstream)?.onMembershipChange(change))

  const router = new LollyRouter(defaultPool)
  const original = await hostReplyFrom(app, router)
  const fallback = { pool: defaultPool, balancers: defaultPool.balancers }

  app.decorate('lolly', api)
  app.decorateRequest('lolly', null)
  app.decorateReply('from', buildFrom(original, { xForwarded: options.xForwarded }, fallback))

  app.addHook('onRoute', (routeOptions: RouteOptions) => {
    const config = (routeOptions.config ?? {}) as { upstream?: unknown, [kRouteBinding]?: unknown }
    config[kRouteBinding] = bindRoute(config.upstream, describeRoute(routeOptions), pools, defaultPool)
    routeOptions.config = config as RouteOptions['config']
  })

  const poolList = [...pools.values()]
  if (options.metrics !== null) installMetrics(app, api, poolList, hooks, options.metrics)
  if (options.status !== null) {
    registerStatusRoutes(app, options.status, { pools: poolList, defaultUpstream: options.defaultUpstream, events: api, now: Date.now })
  }

  app.addHook('onReady', async () => {
    for (const checker of checkers.values()) checker.start()
  })

  app.addHook('onClose', async () => {
    // First, so no probe result changes a state (or reaches a pool) while the pools close.
    await Promise.all([...checkers.values()].map((checker) => checker.stop()))
    // Fastify has stopped taking requests and waited for the in-flight ones; close() then lets
    // anything still running finish and closes the keep-alive sockets to every target.
    await Promise.all([...pools.values()].map((pool) => pool.close()))
  })
}
