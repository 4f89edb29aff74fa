import type { FastifyInstance, RouteOptions } from 'fastify'
import { buildFrom, hostReplyFrom } from './reply-from-bridge.js'
import { LollyApi } from './lolly-api.js'
import { LollyRouter } from './lolly-router.js'
import { readPluginOptions } from './options/plugin-options.js'
import type { LollyOptions } from './options/types.js'
import { bindRoute, describeRoute, kRouteBinding } from './route-binding.js'
import { createStateReporter } from './state-reporter.js'
import { UpstreamPool, type StateChange } from './upstream-pool.js'

/** The plugin body: validate once, build the pools, wire reply.from, tie everything to the app's lifecycle. */
export async function registerLolly (app: FastifyInstance, rawOptions: LollyOptions): Promise<void> {
  const options = readPluginOptions(rawOptions)

  let report: (change: StateChange) => void = () => {}
  const hooks = { onStateChange: (change: StateChange) => report(change), now: Date.now }
  const pools = new Map<string, UpstreamPool>()
  for (const [name, config] of options.upstreams) pools.set(name, new UpstreamPool(config, hooks))
  const defaultPool = pools.get(options.defaultUpstream)!
  const api = new LollyApi(pools, options.defaultUpstream)
  report = createStateReporter(api, app.log)

  const router = new LollyRouter(defaultPool)
  const original = await hostReplyFrom(app, router)
  const trustProxy = Boolean((app.initialConfig as { trustProxy?: unknown }).trustProxy)
  const fallback = { pool: defaultPool, balancers: defaultPool.balancers }

  app.decorate('lolly', api)
  app.decorateRequest('lolly', null)
  app.decorateReply('from', buildFrom(original, { xForwarded: options.xForwarded, trustProxy }, fallback))

  app.addHook('onRoute', (routeOptions: RouteOptions) => {
    const config = (routeOptions.config ?? {}) as { upstream?: unknown, [kRouteBinding]?: unknown }
    config[kRouteBinding] = bindRoute(config.upstream, describeRoute(routeOptions), pools, defaultPool)
    routeOptions.config = config as RouteOptions['config']
  })

  app.addHook('onClose', async () => {
    // Fastify has stopped taking requests and waited for the in-flight ones; close() then lets
    // anything still running finish and closes the keep-alive sockets to every target.
    await Promise.all([...pools.values()].map((pool) => pool.close()))
  })
}
