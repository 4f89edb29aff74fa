import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

// A try ended by the proxy itself (its connection pool to the target destroyed under it) says nothing
// about the target and would fail the same way anywhere: it is neither retried nor held against the target.
test('a try cut because its target\'s connection pool was destroyed is not retried elsewhere', async (t) => {
  let arrived: () => void = () => {}
  const reached = new Promise<void>((resolve) => { arrived = resolve })
  const hanging = await startUpstream('hanging', () => { arrived() })
  const spare = await startUpstream('spare')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await hanging.close(); await spare.close() })
  await app.register(lolly, { targets: [hanging.url, spare.url], balancer: 'first' })
  app.get('/*', (_req, reply) => reply.from())
  const pending = app.inject('/x')
  await reached
  await poolOf(app).target(hanging.url)!.dispatcher.destroy()
  const res = await pending
  t.equal(res.statusCode, 502)
  t.match(res.json(), { code: 'FST_LOLLY_BAD_GATEWAY', message: /UND_ERR_DESTROYED/ })
  t.equal(spare.hits.length, 0, 'not retried on the spare target')
  t.equal(app.lolly.targets[0].failures, 0, 'not held against the target')
  await t.resolves(app.close(), 'closing copes with a target whose connection pool is already destroyed')
})
