import { test } from 'tap'
import { buildRig, installClock } from './helpers/health-rig.js'
import { startUpstream, startUpstreams, type UpstreamHandler } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

const answer503: UpstreamHandler = (_req, res) => { res.statusCode = 503; res.end('busy') }

test('maxEjectedPercent caps how many targets passive health takes out (default 50 %)', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(4, answer503)
  const rig = await buildRig({ targets: ups.map((u) => u.url) })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })

  const states = (): string[] => rig.app.lolly.targets.map((s) => s.state)
  await rig.hit(100)
  t.equal(states().filter((s) => s === 'ejected').length, 2, 'two of four ejected, however many failures follow')
  t.equal(states().filter((s) => s === 'healthy').length, 2)
  const failures = rig.app.lolly.targets.filter((s) => s.state === 'healthy').map((s) => s.failures)
  t.ok(failures.every((n) => n >= 10), `the two left kept failing (${failures.join(', ')})`)
})

test('maxEjectedPercent: a share below one target still allows one ejection of two or more', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(4, answer503)
  const rig = await buildRig({ targets: ups.map((u) => u.url), passive: { maxEjectedPercent: 10 } })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })

  await rig.hit(60)
  t.equal(rig.app.lolly.targets.filter((s) => s.state === 'ejected').length, 1)
})

test('a pool of two may lose one target to passive ejection', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(2, answer503)
  const rig = await buildRig({ targets: ups.map((u) => u.url) })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })

  await rig.hit(40)
  t.same(rig.app.lolly.targets.map((s) => s.state).sort(), ['ejected', 'healthy'])
  clock.tick(30_000)
  t.same(rig.app.lolly.targets.map((s) => s.state), ['healthy', 'healthy'], 'and gets it back')
})

test('a single target is never ejected passively', async (t) => {
  const clock = installClock()
  const only = await startUpstream('only', answer503)
  const rig = await buildRig({ targets: [only.url], passive: { maxFails: 1 } })
  t.teardown(async () => { await rig.app.close(); await only.close(); clock.uninstall() })

  const seen = await rig.hit(10)
  t.same(new Set(seen), new Set(['503']), 'its answers still reach the client')
  t.equal(rig.target(only.url)!.state, 'healthy')
  t.ok(rig.target(only.url)!.failures >= 10)
})

test('targets that are disabled or draining do not count: one target left is a single target', async (t) => {
  const clock = installClock()
  const bad = await startUpstream('bad', answer503)
  const spare = await startUpstreams(2)
  const rig = await buildRig({ targets: [bad.url, { url: spare[0].url, down: true }, spare[1].url], passive: { maxFails: 1 } })
  t.teardown(async () => { await rig.app.close(); await Promise.all([bad, ...spare].map((u) => u.close())); clock.uninstall() })

  const drained = rig.app.lolly.drain('default', spare[1].url)
  await drained
  await rig.hit(5)
  t.equal(rig.target(bad.url)!.state, 'healthy', 'not ejected: nothing else could take its traffic')

  rig.app.lolly.enable('default', spare[1].url)
  await rig.hitUntil(() => rig.target(bad.url)!.state === 'ejected', 10)
  t.pass('ejected once another target is in service')
})

test('the last healthy target is never ejected passively, whatever the cap allows', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(4, answer503)
  const rig = await buildRig({ targets: ups.map((u) => u.url), passive: { maxEjectedPercent: 100, maxFails: 1 } })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  const pool = poolOf(rig.app)
  pool.health.transition(pool.target(ups[0].url)!, 'unhealthy', 'active: probe failed')

  await rig.hit(30)
  t.same(rig.app.lolly.targets.map((s) => s.state).sort(), ['ejected', 'ejected', 'healthy', 'unhealthy'])
  t.same(new Set(await rig.hit(4)), new Set(['503']), 'its answers still reach the client')
})
