import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import type { Target } from '../lib/pool/target.js'
import { installClock } from './helpers/health-rig.js'
import { poolOf } from './helpers/internals.js'
import { startUpstreams } from './helpers/upstreams.js'

// A pool's balancers are rebuilt at the next pick after anything they hold changed, once however
// many changes came in between; and a hash ring follows configured weights, not the slow-start ramp.

test('any number of changes between two picks cost one rebuild; none without a change', async (t) => {
  const ups = await startUpstreams(4)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: ups.map((u) => u.url), balancer: 'least-connections', slowStart: 10_000 })
  app.get('/*', (_req, reply) => reply.from())
  const pool = poolOf(app)
  let rebuilds = 0
  const rebuild = pool.balancers.rebuild.bind(pool.balancers)
  pool.balancers.rebuild = (tiers: ReadonlyArray<readonly Target[]>) => {
    rebuilds++
    rebuild(tiers)
  }

  await app.inject('/first')
  t.equal(rebuilds, 1, 'built at the first pick')
  for (let i = 0; i < 5; i++) await app.inject(`/steady${i}`)
  t.equal(rebuilds, 1, 'nothing changed: nothing rebuilt')

  app.lolly.disable('default', ups[0].url)
  app.lolly.setWeight('default', ups[1].url, 5)
  app.lolly.enable('default', ups[0].url)
  app.lolly.addTarget('default', 'http://127.0.0.1:1')
  app.lolly.disable('default', 'http://127.0.0.1:1')
  pool.health.transition(pool.target(ups[2].url)!, 'unhealthy', 'test')
  t.equal(rebuilds, 1, 'six changes, no pick: no rebuild yet')
  await app.inject('/after')
  t.equal(rebuilds, 2, 'one rebuild for all of them')
  const served = new Set<string>()
  for (let i = 0; i < 12; i++) served.add((await app.inject(`/r${i}`)).body.split(' ')[0])
  t.same([...served].sort(), ['u0', 'u1', 'u3'], 'and it holds every change')
  t.equal(rebuilds, 2)
})

test('consistent hashing: a target in slow start keeps its keys while it ramps up', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  await app.register(lolly, {
    targets: ups.map((u) => u.url),
    balancer: 'consistent-hash',
    hashKey: 'header:x-user',
    // Pure affinity: no bounded-load spill, so every move would be the ring's.
    hashBalanceFactor: 0,
    slowStart: 10_000
  })
  app.get('/*', (_req, reply) => reply.from())
  const owners = async (): Promise<string[]> => {
    const seen: string[] = []
    for (let user = 0; user < 60; user++) {
      seen.push((await app.inject({ url: '/', headers: { 'x-user': `user-${user}` } })).body.split(' ')[0])
    }
    return seen
  }
  const before = await owners()
  t.equal(new Set(before).size, 3, 'the keys spread over the three targets')

  app.lolly.disable('default', ups[1].url)
  const without = await owners()
  t.ok(before.every((owner, i) => owner === 'u1' ? without[i] !== 'u1' : without[i] === owner), 'only the disabled target\'s keys moved')
  app.lolly.enable('default', ups[1].url)
  for (let step = 0; step <= 10; step++) {
    const target = app.lolly.targets[1]
    t.same(await owners(), before, `every key is home at ${Math.round(target.effectiveWeight * 100)}% of its weight`)
    clock.tick(1000)
  }
  t.equal(app.lolly.targets[1].effectiveWeight, 1, 'the ramp is over')
})
