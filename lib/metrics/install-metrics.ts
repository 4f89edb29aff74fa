import type { FastifyInstance } from 'fastify'
import type { LollyApi } from '../lolly-api.js'
import type { NormalizedMetrics } from '../options/types.js'
import type { PoolHooks, StateChange, UpstreamPool } from '../upstream-pool.js'
import { registerLollyMetrics } from './lolly-metrics.js'
import { loadPromClient, type ModuleLoader } from './prom-client-loader.js'
import { TrafficRecorder } from './traffic-recorder.js'

/**
 * Turns metrics on: loads prom-client (failing register when it is missing), registers the
 * metrics, and counts every request's tries as the pool settles it. Everything is taken out of
 * the registry on close, so the app can be built again with the same registry.
 */
export function installMetrics (
  app: FastifyInstance, api: LollyApi, pools: readonly UpstreamPool[], hooks: PoolHooks, options: NormalizedMetrics, load?: ModuleLoader
): TrafficRecorder {
  const client = loadPromClient(load)
  const recorder = new TrafficRecorder(options.buckets)
  const unregister = registerLollyMetrics(client, options, {
    pools,
    recorder,
    retries: pools.some((pool) => pool.config.retry.attempts > 0)
  })
  const onState = (change: StateChange): void => recorder.recordStateChange(change)
  api.on('state', onState)

  // Fed by the pools, not by a Fastify onResponse hook: a hook runs for every route, costs a hook
  // runner per request (measured: a few % of the proxy's CPU), and never runs for a client that
  // left. The pools also see requests sent to them directly (`undici.request(url, { dispatcher })`).
  hooks.onTries = (upstream, tries, from) => recorder.recordTries(upstream, tries, from)

  app.addHook('onClose', (_app, done) => {
    api.off('state', onState)
    unregister()
    done()
  })
  return recorder
}
