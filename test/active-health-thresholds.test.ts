import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import type { StateChange } from '../lib/pool/pool-events.js'
import { startUpstream, startUpstreams } from './helpers/upstreams.js'
import { installClock, nextProbe } from './helpers/health-clock.js'
import { poolOf } from './helpers/internals.js'

// Probes of a target whose /health answers `status[name]`; every other path answers with the server name.
async function switchable (names: string[]) {
  const status: Record<string, number> = {}
  const ups = await Promise.all(names.map((name) => {
    status[name] = 200
    return startUpstream(name, (req, res) => {
      res.statusCode = req.url === '/health' ? status[name] : 200
      res.end(name)
    })
  }))
  return { ups, status }
}

test('thresholds: unhealthyThreshold failures in a row take a target out, healthyThreshold passes bring it back', async (t) => {
  const { ups: [a, b], status } = await switchable(['a', 'b'])
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await a.close(); await b.close() })
  await app.register(lolly, {
    targets: [a.url, b.url],
    healthCheck: { interval: 1000, timeout: 200, jitter: 0, unhealthyThreshold: 3, healthyThreshold: 2 }
  })
  app.get('/*', (_req, reply) => reply.from())
  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))
  await app.ready()
  const stateOfA = () => app.lolly.upstreams.default.targets[0].state

  t.match(await nextProbe(clock, app, 0), { ok: true, status: 200, error: null, at: 0 }, 'first probe at start')
  status.a = 500
  t.match(await nextProbe(clock, app, 1000), { ok: false, status: 500, error: 'status 500', at: 1000 })
  await nextProbe(clock, app, 1000)
  t.equal(stateOfA(), 'healthy', 'unhealthyThreshold - 1 failures keep it up')
  t.equal(changes.length, 0)

  status.a = 200
  await nextProbe(clock, app, 1000)
  status.a = 500
  await nextProbe(clock, app, 1000)
  await nextProbe(clock, app, 1000)
  t.equal(stateOfA(), 'healthy', 'a pass in between resets the failure count')
  await nextProbe(clock, app, 1000)
  t.equal(stateOfA(), 'unhealthy', 'the third failure in a row takes it out')
  t.match(changes, [{ target: a.url, from: 'healthy', to: 'unhealthy', reason: 'active check: status 500 (3 failures in a row)', at: 6000 }])

  const bodies = await Promise.all([1, 2, 3, 4].map(async () => (await app.inject('/x')).body))
  t.same(bodies, ['b', 'b', 'b', 'b'], 'traffic avoids the unhealthy target')

  status.a = 200
  await nextProbe(clock, app, 1000)
  status.a = 500
  await nextProbe(clock, app, 1000)
  status.a = 200
  await nextProbe(clock, app, 1000)
  t.equal(stateOfA(), 'unhealthy', 'a failure in between resets the pass count')
  await nextProbe(clock, app, 1000)
  t.equal(stateOfA(), 'healthy', 'healthyThreshold passes in a row bring it back')
  t.match(changes[1], { from: 'unhealthy', to: 'healthy', reason: 'active check: passed 2 in a row', at: 10000 })
  t.equal(changes.length, 2, 'one event per transition, none per probe')
  t.equal(a.hits.length, 11, 'one probe per interval')
})

test('thresholds of 1 flip the state on a single result', async (t) => {
  const { ups: [a], status } = await switchable(['a'])
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await a.close() })
  await app.register(lolly, {
    targets: [a.url],
    healthCheck: { interval: 1000, timeout: 200, jitter: 0, unhealthyThreshold: 1, healthyThreshold: 1 }
  })
  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))
  await app.ready()
  await nextProbe(clock, app, 0)
  status.a = 503
  await nextProbe(clock, app, 1000)
  status.a = 200
  await nextProbe(clock, app, 1000)
  t.match(changes, [
    { to: 'unhealthy', reason: 'active check: status 503 (1 failure in a row)' },
    { to: 'healthy', reason: 'active check: passed 1 in a row' }
  ])
})

test('healthyThreshold passes end a first passive ejection early; failures take an ejected target to unhealthy', async (t) => {
  const { ups: [a, b], status } = await switchable(['a', 'b'])
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await a.close(); await b.close() })
  await app.register(lolly, {
    targets: [a.url, b.url],
    healthCheck: { interval: 1000, timeout: 200, jitter: 0, unhealthyThreshold: 2, healthyThreshold: 3 }
  })
  await app.ready()
  const pool = poolOf(app)
  const targetA = pool.target(a.url)!
  await nextProbe(clock, app, 0)

  // Real traffic failures: passive health's default 5 within 10 s eject it for the first time.
  for (let i = 0; i < 5; i++) pool.health.trafficFailed(targetA, 'ECONNRESET', 0)
  t.equal(targetA.state, 'ejected')
  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))
  await nextProbe(clock, app, 1000)
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'ejected', 'passes made before the ejection do not count: two passes since are not enough')
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'healthy', 'healthyThreshold passes while ejected end a first ejection')
  t.match(changes, [{ from: 'ejected', to: 'healthy', reason: 'active check: passed 3 in a row, ejection ended early' }])

  // Back on probation: its next failure ejects it again, for the doubled time.
  pool.health.trafficFailed(targetA, 'ECONNRESET', 0)
  t.equal(targetA.state, 'ejected')
  for (let i = 0; i < 5; i++) await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'ejected', 'a repeated ejection runs its course however many probes pass (no passive/active flapping)')

  status.a = 500
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'ejected')
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'unhealthy', 'an ejected target failing its probes is unhealthy: the ejection ending must not bring it back')
})

test('disabled and draining targets are probed (lastCheck stays fresh) but their state is left alone', async (t) => {
  const ups = await startUpstreams(2, (_req, res) => { res.statusCode = 500; res.end() })
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, {
    targets: [{ url: ups[0].url, down: true }, ups[1].url],
    healthCheck: { interval: 1000, timeout: 200, jitter: 0, unhealthyThreshold: 1, healthyThreshold: 1 }
  })
  await app.ready()
  const pool = poolOf(app)
  pool.health.transition(pool.targets[1], 'draining', 'test: drain')
  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))
  await nextProbe(clock, app, 0, 0)
  await nextProbe(clock, app, 1000, 1)
  t.match(app.lolly.targets.map((s) => [s.state, s.lastCheck?.error]), [['disabled', 'status 500'], ['draining', 'status 500']])
  t.equal(changes.length, 0)

  // Re-enabled while its probes fail: the next failed probe takes it out, no need to count again.
  pool.health.transition(pool.targets[0], 'healthy', 'test: enable')
  await nextProbe(clock, app, 1000, 0)
  t.equal(pool.targets[0].state, 'unhealthy')
})

test('a change of state starts the probe counts over, even when the state is back before the next probe', async (t) => {
  const { ups: [a, b], status } = await switchable(['a', 'b'])
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await a.close(); await b.close() })
  await app.register(lolly, {
    targets: [a.url, b.url],
    healthCheck: { interval: 1000, timeout: 200, jitter: 0, unhealthyThreshold: 2, healthyThreshold: 2 },
    passive: { maxFails: 1, ejectTime: 500 }
  })
  await app.ready()
  const pool = poolOf(app)
  const targetA = pool.target(a.url)!
  await nextProbe(clock, app, 0)
  status.a = 500

  // Found by test/fuzz/health-model.test.ts: a failed probe, then a passive ejection that ends before
  // the next probe. The failure before the ejection used to count towards the next one's threshold.
  await nextProbe(clock, app, 1000)
  pool.health.trafficFailed(targetA, 'ECONNRESET', 0)
  t.equal(targetA.state, 'ejected')
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'healthy', 'the ejection ended (at 1.5 s) before this failed probe, the first since it came back')
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'unhealthy', 'the second failure in a row since it came back takes it out')

  // The same through the operator: disabled and enabled between two probes.
  app.lolly.disable('default', a.url)
  app.lolly.enable('default', a.url)
  t.equal(targetA.state, 'healthy')
  await nextProbe(clock, app, 1000)
  app.lolly.disable('default', a.url)
  app.lolly.enable('default', a.url)
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'healthy', 'one failure since it was enabled again')
  await nextProbe(clock, app, 1000)
  t.equal(targetA.state, 'unhealthy')
})

test('a repeated ejection runs its course even when maxEjectTime leaves nothing to double', async (t) => {
  // Found by test/fuzz/health-model.test.ts: with maxEjectTime at most twice ejectTime, passing
  // probes ended a repeated ejection early, as if it were a first one.
  for (const maxEjectTime of [1000, 2000]) {
    const clock = installClock()
    const app = Fastify()
    // Not started: no probe is sent, the results below stand for them. Privileged ports: nothing is reached.
    await app.register(lolly, {
      targets: ['http://127.0.0.1:1', 'http://127.0.0.1:2'],
      healthCheck: { interval: 60_000, timeout: 1000, healthyThreshold: 1 },
      passive: { maxFails: 1, ejectTime: 1000, maxEjectTime }
    })
    const pool = poolOf(app)
    const target = pool.targets[0]
    const pass = () => pool.health.probed(target, { ok: true, status: 200, error: null }, 1)

    pool.health.trafficFailed(target, 'ECONNREFUSED', 0)
    pass()
    t.equal(target.state, 'healthy', `maxEjectTime ${maxEjectTime}: a passing probe ends a first ejection`)
    pool.health.trafficFailed(target, 'ECONNREFUSED', 0)
    t.equal(target.state, 'ejected', 'its first failure on probation ejects it again')
    pass()
    t.equal(target.state, 'ejected', 'passing probes do not end a repeated ejection')
    clock.tick(maxEjectTime - 1)
    t.equal(target.state, 'ejected')
    clock.tick(1)
    t.equal(target.state, 'healthy', 'it ends after its whole (doubled, capped) time')
    await app.close()
    clock.uninstall()
  }
})
