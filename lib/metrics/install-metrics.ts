import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { LollyApi } from '../lolly-api.js'
import type { NormalizedMetrics } from '../options/types.js'
import type { StateChange, UpstreamPool } from '../upstream-pool.js'
import { registerLollyMetrics } from './lolly-metrics.js'
import { loadPromClient, type ModuleLoader } from './prom-client-loader.js'
import { TrafficRecorder } from './traffic-recorder.js'

/**
 * Turns metrics on: loads prom-client (failing register when it is missing), registers the
 * metrics, and counts every proxied request's tries once the response is done. Everything is
 * taken out of the registry on close, so the app can be built again with the same registry.
 */
export function installMetrics (
  app: FastifyInstance, api: LollyApi, pools: readonly UpstreamPool[], options: NormalizedMetrics, load?: ModuleLoader
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

  // request.lolly holds the upstream and every try once reply.from() ran, and is null on other routes.
  // By onResponse every try has ended, failover included.
  app.addHook('onResponse', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const info = request.lolly
    if (info !== null) recorder.recordTries(info.upstream, info.tries)
    done()
  })

  app.addHook('onClose', (_app, done) => {
    api.off('state', onState)
    unregister()
    done()
  })
  return recorder
}
