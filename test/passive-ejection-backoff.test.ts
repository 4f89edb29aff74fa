import { test } from 'tap'
import { buildRig, installClock } from './helpers/health-rig.js'
import { startUpstream } from './helpers/upstreams.js'

test('each ejection in a row doubles the ejection time up to maxEjectTime; one failure on return re-ejects', async (t) => {
  const clock = installClock()
  const dead = await startUpstream('dead')
  const good = await startUpstream('good')
  await dead.close()
  const rig = await buildRig({ targets: [dead.url, good.url] })
  t.teardown(async () => { await rig.app.close(); await good.close(); clock.uninstall() })

  const durations: number[] = []
  const failuresPerEjection: number[] = []
  for (let round = 0; round < 6; round++) {
    const before = rig.target(dead.url)!.failures
    await rig.hitUntil(() => rig.target(dead.url)!.state === 'ejected')
    failuresPerEjection.push(rig.target(dead.url)!.failures - before)
    const duration = rig.target(dead.url)!.ejectedUntil! - Date.now()
    durations.push(duration)
    clock.tick(duration)
    t.equal(rig.target(dead.url)!.state, 'healthy', `back after ${duration} ms`)
  }
  t.same(durations, [30_000, 60_000, 120_000, 240_000, 300_000, 300_000], 'doubling, capped at 300 s')
  t.same(failuresPerEjection, [5, 1, 1, 1, 1, 1], 'after an ejection one failure is enough (the trial request)')
  const reasons = rig.changes.filter((c) => c.to === 'ejected').map((c) => c.reason)
  t.equal(reasons[0], 'passive: 5 failures within 10s (last: ECONNREFUSED); ejected for 30s')
  t.equal(reasons[1], 'passive: failed again right after its ejection (ECONNREFUSED); ejected for 60s')
  t.equal(reasons[5], 'passive: failed again right after its ejection (ECONNREFUSED); ejected for 300s')
})

test('a good answer ends the probation, and each ejectTime out of ejection forgives one doubling', async (t) => {
  const clock = installClock()
  let failing = true
  const flaky = await startUpstream('flaky', (_req, res) => { res.statusCode = failing ? 502 : 200; res.end('flaky') })
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [flaky.url, good.url], passive: { maxFails: 2, ejectTime: 1000, maxEjectTime: 60_000 } })
  t.teardown(async () => { await rig.app.close(); await flaky.close(); await good.close(); clock.uninstall() })
  const ejectedFor = (): number => rig.target(flaky.url)!.ejectedUntil! - Date.now()
  const ejected = (): boolean => rig.target(flaky.url)!.state === 'ejected'

  // Three ejections in a row: 1 s, 2 s, 4 s.
  await rig.hitUntil(ejected)
  t.equal(ejectedFor(), 1000)
  clock.tick(1000)
  await rig.hitUntil(ejected)
  t.equal(ejectedFor(), 2000)
  clock.tick(2000)
  await rig.hitUntil(ejected)
  t.equal(ejectedFor(), 4000)
  clock.tick(4000)

  // Healthy again: a good answer ends the probation, so one failure no longer ejects.
  failing = false
  await rig.hitUntil(() => rig.target(flaky.url)!.consecutiveFailures === 0)
  failing = true
  const before = rig.target(flaky.url)!.failures
  await rig.hitUntil(() => rig.target(flaky.url)!.failures === before + 1)
  t.equal(rig.target(flaky.url)!.state, 'healthy', 'one failure after a good answer does not eject')

  // 2 s out of ejection forgives two of the three doublings: 8 s becomes 2 s.
  clock.tick(2000)
  await rig.hitUntil(ejected)
  t.equal(ejectedFor(), 2000)
  clock.tick(2000)

  // A long healthy spell forgives everything: back to ejectTime.
  failing = false
  await rig.hitUntil(() => rig.target(flaky.url)!.consecutiveFailures === 0)
  clock.tick(60_000)
  failing = true
  await rig.hitUntil(ejected)
  t.equal(ejectedFor(), 1000)
})
