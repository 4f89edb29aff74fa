import type { FastifyInstance } from 'fastify'
import type { SourceSnapshot } from '../discovery/source-status.js'
import type { NormalizedMetrics } from '../options/types.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import { registerLollyMetrics } from './lolly-metrics.js'
import { loadPromClient, type ModuleLoader } from './prom-client-loader.js'
import { TrafficRecorder } from './traffic-recorder.js'

/**
 * Turns metrics on: loads prom-client (failing register when it is missing), registers the
 * metrics, and counts every request's tries as its pool settles it and every ejection as it
 * happens, as an observer of each pool. Everything is taken out of the registry on close, so the
 * app can be built again with the same registry.
 */
export function installMetrics (app: FastifyInstance, pools: readonly UpstreamPool[], discovery: () => readonly SourceSnapshot[], options: NormalizedMetrics, load?: ModuleLoader): TrafficRecorder {
  const client = loadPromClient(load)
  const recorder = new TrafficRecorder(options.buckets)
  const unregister = registerLollyMetrics(client, options, {
    pools,
    discovery,
    recorder,
    retries: pools.some((pool) => pool.config.retry.attempts > 0)
  })
  // Fed by the pools, not by a Fastify onResponse hook: a hook runs for every route, costs a hook
  // runner per request (measured: a few % of the proxy's CPU), and never runs for a client that
  // left. The pools also see requests sent to them directly (`undici.request(url, { dispatcher })`).
  const unobserve = pools.map((pool) => pool.observe(recorder))
  app.addHook('onClose', (_app, done) => {
    for (const stop of unobserve) stop()
    unregister()
    done()
  })
  return recorder
}
