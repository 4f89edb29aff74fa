import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { ActiveChecker } from '../lib/health/active-checker.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import { readTarget } from '../lib/options/target-options.js'
import type { StateChange } from '../lib/pool/pool-events.js'
import { startUpstream } from './helpers/upstreams.js'
import { idle, installClock, lastCheck, nextProbe, waitFor } from './helpers/health-clock.js'
import { poolOf } from './helpers/internals.js'

// Targets added or removed at runtime are probed, or stop being probed, like the configured ones.

test('a target added at runtime is probed, and with initialState unhealthy waits for its passes', async (t) => {
  const first = await startUpstream('first')
  const added = await startUpstream('added')
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await first.close(); await added.close() })
  await app.register(lolly, {
    targets: [first.url],
    healthCheck: { interval: 1000, timeout: 300, jitter: 0, healthyThreshold: 2, initialState: 'unhealthy' }
  })
  app.get('/*', (_req, reply) => reply.from())
  await app.ready()
  await nextProbe(clock, app, 0)
  await nextProbe(clock, app, 1000)
  t.equal(app.lolly.targets[0].state, 'healthy')

  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))
  t.match(app.lolly.addTarget('default', added.url), { state: 'unhealthy' }, 'unhealthy from the moment it is added')
  t.same(changes, [], 'born unhealthy: it never was healthy, so there is no transition to report')
  for (let i = 0; i < 4; i++) t.equal((await app.inject(`/r${i}`)).body, `first GET /r${i}`, 'and takes no traffic')
  await nextProbe(clock, app, 0, 1)
  t.equal(added.hits.length, 1, 'probed at once (jitter 0)')
  await nextProbe(clock, app, 1000, 1)
  t.equal(app.lolly.targets[1].state, 'healthy')
  t.same(changes.map((change) => [change.from, change.to]), [['unhealthy', 'healthy']], 'its one transition: the passes it waited for')
})

test('a target added before the app is ready is probed from start like the others', async (t) => {
  const first = await startUpstream('first')
  const added = await startUpstream('added')
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await first.close(); await added.close() })
  await app.register(lolly, { targets: [first.url], healthCheck: { interval: 1000, timeout: 300, jitter: 0 } })
  app.lolly.addTarget('default', added.url)
  await clock.tickAsync(0)
  await idle(20)
  t.equal(added.hits.length, 0, 'nothing is probed before ready')
  await app.ready()
  await nextProbe(clock, app, 0, 1)
  t.equal(added.hits.length, 1)
})

test('a removed target is no longer probed; a probe of it in flight is aborted and reports nothing', async (t) => {
  const kept = await startUpstream('kept')
  let connectionClosed = false
  const hanging = await startUpstream('hanging', (req) => { req.socket.on('close', () => { connectionClosed = true }) })
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await kept.close(); await hanging.close() })
  await app.register(lolly, {
    targets: [kept.url, hanging.url],
    healthCheck: { interval: 1000, timeout: 900, jitter: 0, unhealthyThreshold: 1, concurrency: 1 }
  })
  await app.ready()
  await clock.tickAsync(0)
  await waitFor(() => lastCheck(app, 0) !== null, 'the first target')
  await waitFor(() => hanging.hits.length === 1, 'the probe of the second target')

  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))
  await app.lolly.removeTarget('default', hanging.url)
  await waitFor(() => connectionClosed, 'the aborted probe connection to close')
  t.same(changes.map((c) => c.to), ['draining'], 'only the removal changed its state')
  t.same(app.lolly.targets.map((s) => s.url), [kept.url])

  for (let i = 0; i < 5; i++) await nextProbe(clock, app, 1000, 0)
  await idle(20)
  t.equal(kept.hits.length, 6, 'the kept target is probed every second')
  t.equal(hanging.hits.length, 1, 'the removed target got no probe after its removal')
})

test('a queued probe of a removed target never runs', async (t) => {
  const slow = await startUpstream('slow', () => {})
  const queued = await startUpstream('queued')
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await slow.close(); await queued.close() })
  await app.register(lolly, { targets: [slow.url, queued.url], healthCheck: { interval: 1000, timeout: 300, jitter: 0, concurrency: 1 } })
  await app.ready()
  await clock.tickAsync(0)
  await waitFor(() => slow.hits.length === 1, 'the first probe')
  await app.lolly.removeTarget('default', queued.url)
  await nextProbe(clock, app, 300, 0)
  await idle(20)
  t.equal(queued.hits.length, 0)
})

test('membership news after stop changes nothing', async (t) => {
  const up = await startUpstream('a')
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await up.close() })
  await app.register(lolly, { targets: ['http://127.0.0.1:1'] })
  await app.ready()
  const pool = poolOf(app)
  const check = readPluginOptions({ targets: [up.url], healthCheck: { jitter: 0 } }).upstreams.get('default')!.healthCheck!
  const checker = new ActiveChecker(pool, check, true)
  checker.start()
  await checker.stop()
  const added = pool.addTarget(readTarget(up.url, 'target'))
  const timers = clock.countTimers()
  checker.membershipChanged({ upstream: 'default', change: 'added', target: up.url, name: null, source: null, at: Date.now() }, added)
  t.equal(clock.countTimers(), timers, 'no timer armed')
  await clock.tickAsync(20_000)
  await idle(20)
  t.equal(up.hits.length, 0)
})
