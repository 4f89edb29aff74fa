import type { FastifyInstance } from 'fastify'
import { Discovery } from '../discovery/discovery.js'
import { ActiveChecker } from '../health/active-checker.js'
import { installMetrics } from '../metrics/install-metrics.js'
import { LollyApi } from '../operator/lolly-api.js'
import { publicObserver } from '../operator/public-events.js'
import { readPluginOptions } from '../options/plugin-options.js'
import type { LollyOptions } from '../options/types.js'
import { UpstreamPool } from '../pool/upstream-pool.js'
import { PoolDispatcher } from '../proxy/pool-dispatcher.js'
import { registerStatusRoutes } from '../status/status-routes.js'
import { lollyTracer } from '../tracing/lolly-tracer.js'
import { listenForUpgrades } from '../tunnel/upgrade-listener.js'
import { kFromCall } from './from-call.js'
import { LollyRouter } from './lolly-router.js'
import { buildFrom } from './reply-from.js'
import { hostReplyFrom } from './reply-from-host.js'
import { ReplyFromHooks } from './reply-from-hooks.js'
import { RouteDestinations } from './route-binding.js'

/**
 * The plugin body: validate once, build the pools, give every part what it watches at construction
 * (the checkers, metrics and the status stream observe the pools; `app.lolly`'s events come last),
 * wire reply.from, tie everything to the app's lifecycle.
 */
export async function registerLolly (app: FastifyInstance, rawOptions: LollyOptions): Promise<void> {
  const options = readPluginOptions(rawOptions)
  const pools = new Map<string, UpstreamPool>()
  const tracer = lollyTracer(options.tracing)
  for (const [name, config] of options.upstreams) pools.set(name, new UpstreamPool(config, tracer))
  const poolList = [...pools.values()]
  const defaultPool = pools.get(options.defaultUpstream)!
  // Made now, started when the app gets ready: nothing is looked up at register.
  const discovery = new Discovery(poolList, app.log)
  const api = new LollyApi(pools, new Map(poolList.map((pool) => [pool, new PoolDispatcher(pool)])), options.defaultUpstream, discovery)
  for (const pool of poolList) pool.observeLast(publicObserver(api, app.log))
  // Probing starts at onReady; targets added before that are watched from their addition on.
  const checkers: ActiveChecker[] = []
  for (const pool of poolList) {
    if (pool.config.healthCheck === null) continue
    const checker = new ActiveChecker(pool, pool.config.healthCheck, pool.config.tlsRejectUnauthorized)
    pool.observe(checker)
    checkers.push(checker)
  }

  const original = await hostReplyFrom(app, new LollyRouter(), options.replyFrom)
  app.decorate('lolly', api)
  app.decorateRequest('lolly', null)
  app.decorateRequest(kFromCall, null)
  const destinations = new RouteDestinations(pools, defaultPool)
  app.decorateReply('from', buildFrom(original, new ReplyFromHooks(options.xForwarded), destinations, /* fast path: */ options.replyFrom.disableRequestLogging))
  destinations.install(app)

  if (options.metrics !== null) installMetrics(app, poolList, () => discovery.snapshots(), options.metrics)
  if (options.status !== null) {
    registerStatusRoutes(app, options.status, { pools: poolList, defaultUpstream: options.defaultUpstream, sources: () => discovery.snapshots(), actions: api })
  }

  app.addHook('onReady', async () => {
    // Every route is bound by now: Node's server leaves upgrades to a listener only if there is one.
    if (destinations.tunnelling) listenForUpgrades(app)
    for (const pool of poolList) pool.announceStart()
    for (const checker of checkers) checker.start()
    // The checkers are running, so targets the first answers bring are probed from their arrival.
    await discovery.start()
  })

  // Before the server closes, which waits for every connection: a tunnel's would keep it waiting for good.
  app.addHook('preClose', async () => {
    for (const pool of poolList) pool.tunnels.closeAll()
  })

  app.addHook('onClose', async () => {
    // First, so no answer, probe result or state change reaches a pool while the pools close.
    discovery.stop()
    await Promise.all(checkers.map((checker) => checker.stop()))
    // Fastify has stopped taking requests and waited for the in-flight ones; close() then lets
    // anything still running finish and closes the keep-alive sockets to every target.
    await Promise.all(poolList.map((pool) => pool.close()))
  })
}
