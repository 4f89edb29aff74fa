import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import type { StateChange } from '../lib/pool/pool-events.js'
import { startUpstream } from './helpers/upstreams.js'
import { installClock, nextProbe } from './helpers/health-clock.js'

test("initialState 'unhealthy': no traffic until a target has passed healthyThreshold probes", async (t) => {
  const good = await startUpstream('good')
  const bad = await startUpstream('bad', (req, res) => { res.statusCode = req.url === '/health' ? 500 : 200; res.end('bad') })
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await good.close(); await bad.close() })
  const changes: StateChange[] = []
  await app.register(lolly, {
    targets: [good.url, bad.url, { url: 'http://127.0.0.1:1', down: true }],
    healthCheck: { initialState: 'unhealthy', healthyThreshold: 2, interval: 1000, timeout: 300, jitter: 0 }
  })
  app.lolly.on('state', (change) => changes.push(change))
  app.get('/*', (_req, reply) => reply.from())
  t.same(app.lolly.targets.map((s) => s.state), ['unhealthy', 'unhealthy', 'disabled'], 'from register on; a down target stays disabled')

  await app.listen({ port: 0, host: '127.0.0.1' })
  const before = await app.inject('/x')
  t.equal(before.statusCode, 503, 'the server starts and answers 503')
  t.equal(before.json().code, 'FST_LOLLY_NO_AVAILABLE_TARGET')
  t.equal(good.hits.length + bad.hits.length, 0, 'no request reached a target')

  await nextProbe(clock, app, 0)
  t.equal((await app.inject('/x')).statusCode, 503, 'one pass is not enough')
  await nextProbe(clock, app, 1000)
  const after = await app.inject('/x')
  t.equal(after.statusCode, 200)
  t.equal(after.body, 'good GET /x')
  t.match(changes, [{ target: good.url, from: 'unhealthy', to: 'healthy', reason: 'active check: passed 2 in a row' }])
  t.equal(changes.length, 1, 'the target that keeps failing stays out without a new event')
  t.equal(app.lolly.targets[1].state, 'unhealthy')
})

test("initialState 'unhealthy': targets are born unhealthy, which is no transition to announce", async (t) => {
  const up = await startUpstream('a')
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await up.close() })
  const changes: StateChange[] = []
  const { stateChannel } = lolly
  const onState = (change: unknown) => changes.push(change as StateChange)
  stateChannel.subscribe(onState)
  t.teardown(() => { stateChannel.unsubscribe(onState) })
  await app.register(lolly, { targets: [up.url], healthCheck: { initialState: 'unhealthy', healthyThreshold: 1 } })
  t.same(changes, [])
  t.equal(app.lolly.targets[0].state, 'unhealthy')
})
