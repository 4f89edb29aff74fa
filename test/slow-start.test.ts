import { test } from 'tap'
import { buildRig, installClock, tally } from './helpers/health-rig.js'
import { startUpstreams } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

test('slow start ramps a returning target from 10 % to 100 % of its weight in ten steps', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(2)
  const rig = await buildRig({ targets: [ups[0].url, ups[1].url], slowStart: 10_000 })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  const weightOf = (): number => rig.target(ups[1].url)!.effectiveWeight

  t.equal(weightOf(), 1, 'no slow start at startup')
  rig.app.lolly.disable('default', ups[1].url)
  rig.app.lolly.enable('default', ups[1].url)

  // Traffic share of u1 against u0 (weight 1): w / (1 + w).
  const share = async (): Promise<number> => (tally(await rig.hit(220)).u1 ?? 0) / 220
  t.equal(weightOf(), 0.1, 'starts at 10 %')
  const first = await share()
  t.ok(Math.abs(first - 0.1 / 1.1) < 0.02, `about 9 % of the traffic at first (${first})`)

  const weights: number[] = []
  for (let step = 1; step <= 10; step++) {
    const previous = weightOf()
    clock.tick(999)
    t.equal(weightOf(), previous, 'no change within a step')
    clock.tick(1)
    weights.push(Math.round(weightOf() * 1000) / 1000)
    if (step === 5) {
      const middle = await share()
      t.ok(Math.abs(middle - 0.55 / 1.55) < 0.02, `about 35 % halfway (${middle})`)
    }
  }
  t.same(weights, [0.19, 0.28, 0.37, 0.46, 0.55, 0.64, 0.73, 0.82, 0.91, 1], 'one step per tenth of the window')
  const last = await share()
  t.ok(Math.abs(last - 0.5) < 0.02, `an even split at the end (${last})`)
  const count = rig.changes.length
  clock.tick(60_000)
  t.equal(weightOf(), 1, 'and it stays there')
  t.equal(rig.changes.length, count, 'weight steps are not state changes')
})

test('slow start follows the target: restarts when it comes back, stops when it leaves, honours setWeight', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(3)
  const rig = await buildRig({ targets: ups.map((u) => u.url), slowStart: 1000, passive: { maxFails: 1 } })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  const pool = poolOf(rig.app)
  const target = pool.target(ups[2].url)!
  const weightOf = (): number => rig.target(ups[2].url)!.effectiveWeight

  // Back from an ejection, through the single writer, as the passive timer does.
  pool.health.transition(target, 'ejected', 'test')
  pool.health.transition(target, 'healthy', 'ejection ended')
  t.equal(weightOf(), 0.1)
  clock.tick(500)
  t.equal(weightOf(), 0.55)
  rig.app.lolly.setWeight('default', ups[2].url, 10)
  t.equal(weightOf(), 5.5, 'a new weight keeps the place on the ramp')
  rig.app.lolly.disable('default', ups[2].url)
  t.equal(weightOf(), 10, 'leaving ends the ramp')
  clock.tick(1000)
  rig.app.lolly.enable('default', ups[2].url)
  t.equal(weightOf(), 1, 'coming back starts it over')
  clock.tick(300)
  pool.health.transition(target, 'unhealthy', 'active: probe failed')
  pool.health.transition(target, 'healthy', 'active: probe passed')
  t.equal(weightOf(), 1, 'every return starts at 10 %')
  clock.tick(1000)
  t.equal(weightOf(), 10)
  rig.app.lolly.setWeight('default', ups[2].url, 2)
  t.equal(weightOf(), 2, 'outside a ramp the weight applies at once')

  const added = rig.app.lolly.addTarget('default', { url: 'http://127.0.0.1:1', weight: 4 })
  t.equal(added.effectiveWeight, 0.4, 'a target added at runtime ramps up too')
  const down = rig.app.lolly.addTarget('default', { url: 'http://127.0.0.1:2', down: true })
  t.equal(down.effectiveWeight, 1, 'one added down does not (it takes no traffic)')
  await rig.app.lolly.removeTarget('default', 'http://127.0.0.1:1')
  clock.tick(1000)
  t.same(rig.app.lolly.targets.map((s) => s.effectiveWeight), [1, 1, 2, 1], 'a removed target takes its ramp with it')
})

test('slow start is off by default', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(2)
  const rig = await buildRig({ targets: ups.map((u) => u.url) })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  rig.app.lolly.disable('default', ups[1].url)
  rig.app.lolly.enable('default', ups[1].url)
  t.equal(rig.target(ups[1].url)!.effectiveWeight, 1)
  rig.app.lolly.setWeight('default', ups[1].url, 3)
  t.equal(rig.target(ups[1].url)!.effectiveWeight, 3)
  t.same(tally(await rig.hit(40)), { u0: 10, u1: 30 })
})

test('no slow-start step runs after close', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(2)
  const rig = await buildRig({ targets: ups.map((u) => u.url), slowStart: 1000 })
  t.teardown(async () => { await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  rig.app.lolly.disable('default', ups[1].url)
  rig.app.lolly.enable('default', ups[1].url)
  await rig.app.close()
  t.equal(clock.countTimers(), 0, 'its timer was cleared')
  const pool = poolOf(rig.app)
  pool.health.transition(pool.target(ups[1].url)!, 'disabled', 'after close')
  pool.health.transition(pool.target(ups[1].url)!, 'healthy', 'after close')
  t.equal(clock.countTimers(), 0, 'and a return after close starts none')
})
