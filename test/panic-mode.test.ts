import { test } from 'tap'
import { buildRig, installClock, tally } from './helpers/health-rig.js'
import { startUpstream, startUpstreams } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

test('below panicPercent the pool balances over every target that is not disabled or draining', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(6)
  const rig = await buildRig({ targets: ups.map((u) => u.url), panicPercent: 50 })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  const pool = poolOf(rig.app)
  const panics: boolean[] = []
  rig.app.lolly.on('panic', (change) => panics.push(change.panicking))
  const mark = (i: number, state: 'healthy' | 'unhealthy' | 'ejected'): void => {
    pool.health.transition(pool.target(ups[i].url)!, state, 'test')
  }

  rig.app.lolly.disable('default', ups[4].url)
  await rig.app.lolly.drain('default', ups[5].url)
  mark(0, 'unhealthy')
  mark(1, 'ejected')
  t.equal(rig.app.lolly.upstreams.default.panicking, false, '2 of 4 in service are available: not below 50 %')
  t.same(Object.keys(tally(await rig.hit(8))).sort(), ['u2', 'u3'])

  mark(2, 'unhealthy')
  t.equal(rig.app.lolly.upstreams.default.panicking, true, '1 of 4 is below 50 %')
  t.same(tally(await rig.hit(40)), { u0: 10, u1: 10, u2: 10, u3: 10 }, 'all four share the traffic; disabled and draining get none')
  t.same(rig.app.lolly.targets.map((s) => s.state), ['unhealthy', 'ejected', 'unhealthy', 'healthy', 'disabled', 'draining'], 'states are untouched')

  mark(3, 'unhealthy')
  t.equal(rig.app.lolly.upstreams.default.panicking, true, 'none available: still panic, still answering')
  t.same(new Set(await rig.hit(8)), new Set(['u0', 'u1', 'u2', 'u3']))

  mark(0, 'healthy')
  mark(2, 'healthy')
  t.equal(rig.app.lolly.upstreams.default.panicking, false, '2 of 4 again: panic over')
  t.same(Object.keys(tally(await rig.hit(8))).sort(), ['u0', 'u2'])
  t.same(panics, [true, false], 'entering and leaving reported once each')

  const lines = rig.logs.filter((l) => typeof l.panicking === 'boolean')
  t.equal(lines.length, 2, 'one log line each')
  t.equal(lines[0].level, 40)
  t.equal(lines[0].msg, 'lolly: upstream default is in panic mode: 1 of 4 targets available, balancing over all of them')
  t.equal(lines[1].level, 30)
  t.equal(lines[1].msg, 'lolly: upstream default left panic mode: 2 of 4 targets available')
})

test('a healthy backup prevents panic; panic spreads over the backups too once they fail', async (t) => {
  const clock = installClock()
  const primaries = await startUpstreams(3)
  const backup = await startUpstream('backup')
  const rig = await buildRig({
    targets: [...primaries.map((u) => u.url), { url: backup.url, backup: true }],
    panicPercent: 90
  })
  t.teardown(async () => { await rig.app.close(); await Promise.all([...primaries, backup].map((u) => u.close())); clock.uninstall() })
  const pool = poolOf(rig.app)
  for (const u of primaries) pool.health.transition(pool.target(u.url)!, 'unhealthy', 'test')

  t.equal(rig.app.lolly.upstreams.default.panicking, false)
  t.same(tally(await rig.hit(6)), { backup: 6 }, 'the backup serves, as configured')

  pool.health.transition(pool.target(backup.url)!, 'unhealthy', 'test')
  t.equal(rig.app.lolly.upstreams.default.panicking, true)
  t.same(tally(await rig.hit(9)), { u0: 3, u1: 3, u2: 3 }, 'primaries first; the backup tier only if they cannot take it')
})

test('panicPercent 0 (the default) never panics: no target available answers 503', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(2)
  const rig = await buildRig({ targets: ups.map((u) => u.url) })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  const pool = poolOf(rig.app)
  for (const u of ups) pool.health.transition(pool.target(u.url)!, 'unhealthy', 'test')
  t.equal(rig.app.lolly.upstreams.default.panicking, false)
  t.same(await rig.hit(2), ['503', '503'])
})

test('failures during panic do not eject targets that are already out', async (t) => {
  const clock = installClock()
  const bad = await startUpstreams(3, (_req, res) => { res.statusCode = 503; res.end('x') })
  const rig = await buildRig({ targets: bad.map((u) => u.url), panicPercent: 100, passive: { maxFails: 1 } })
  t.teardown(async () => { await rig.app.close(); await Promise.all(bad.map((u) => u.close())); clock.uninstall() })
  const pool = poolOf(rig.app)
  pool.health.transition(pool.target(bad[0].url)!, 'unhealthy', 'test')
  t.equal(rig.app.lolly.upstreams.default.panicking, true)
  await rig.hit(10)
  t.same(rig.app.lolly.targets.map((s) => s.state).sort(), ['ejected', 'healthy', 'unhealthy'], 'only a healthy one was ejected (and not the last)')
  t.ok(rig.target(bad[0].url)!.failures >= 3, 'the unhealthy one got traffic and failed')
})

test('adding a target can end panic and removing one can start it, reported like any other change', async (t) => {
  const ups = await startUpstreams(3)
  const rig = await buildRig({ targets: [ups[0].url, ups[1].url], panicPercent: 60 })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())) })
  const panics: boolean[] = []
  rig.app.lolly.on('panic', (change) => panics.push(change.panicking))
  const pool = poolOf(rig.app)
  pool.health.transition(pool.target(ups[1].url)!, 'unhealthy', 'test')
  t.same(panics, [true], '1 of 2 is below 60 %')
  rig.app.lolly.addTarget('default', ups[2].url)
  t.same(panics, [true, false], '2 of 3 is not')
  // Taken out without draining first (what removeTarget does), a healthy target leaving changes the share.
  pool.detachTarget(pool.target(ups[2].url)!)
  t.same(panics, [true, false, true])
  t.equal(rig.app.lolly.upstreams.default.panicking, true)
})

test('a pool that starts in panic (targets born unhealthy) says so once the app is ready', async (t) => {
  const ups = await startUpstreams(2)
  const rig = await buildRig({ targets: ups.map((u) => u.url), panicPercent: 50, healthCheck: { initialState: 'unhealthy', interval: 60_000 } })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())) })
  const panics: Array<[boolean, number, number]> = []
  rig.app.lolly.on('panic', (change) => panics.push([change.panicking, change.available, change.eligible]))
  t.equal(rig.app.lolly.upstreams.default.panicking, true, 'in panic from the start')
  await rig.app.ready()
  t.same(panics, [[true, 0, 2]], 'announced once, when the app is ready')
  t.match(rig.logs.filter((line) => typeof line.panicking === 'boolean').map((line) => line.msg),
    ['lolly: upstream default is in panic mode: 0 of 2 targets available, balancing over all of them'])
})
