import { test } from 'tap'
import Fastify from 'fastify'
import client from 'prom-client'
import lolly from '../lib/index.js'
import { installMetrics } from '../lib/metrics/install-metrics.js'
import { loadPromClient } from '../lib/metrics/prom-client-loader.js'
import { poolOf } from './helpers/internals.js'

function missing (id: string): never {
  throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' })
}

test('without prom-client installed, asking for metrics fails with FST_LOLLY_PROM_CLIENT_MISSING and how to fix it', async (t) => {
  const err = (() => { try { loadPromClient(missing) } catch (e) { return e as Error & { code: string, cause: unknown } } })()!
  t.equal(err.code, 'FST_LOLLY_PROM_CLIENT_MISSING')
  t.equal(err.message, "The metrics option needs prom-client: npm install prom-client (Cannot find module 'prom-client')")
  t.match(err.cause, { code: 'MODULE_NOT_FOUND' })

  // The same loader inside the plugin's metrics setup: register fails before anything is registered.
  const app = Fastify()
  await app.register(lolly, { targets: ['http://127.0.0.1:1'] })
  await app.ready()
  t.teardown(() => app.close())
  const options = { registry: null, prefix: 'lolly_', buckets: [1] }
  t.throws(() => installMetrics(app, [poolOf(app)], () => [], options, missing), { code: 'FST_LOLLY_PROM_CLIENT_MISSING' })
  t.equal(client.register.getSingleMetric('lolly_target_up'), undefined)
  t.equal(app.lolly.listenerCount('state'), 0, 'no listener left behind')
})

test('with prom-client installed, the default loader finds it', async (t) => {
  t.equal(loadPromClient(), client)
})
