import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { buildRig, installClock } from './helpers/health-rig.js'
import { startUpstream, startUpstreams, type UpstreamHandler } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

const answer503: UpstreamHandler = (_req, res) => { res.statusCode = 503; res.end('busy') }

test('maxFails failures within failWindow eject the target for ejectTime, and the others take its traffic', async (t) => {
  const clock = installClock()
  const bad = await startUpstream('bad', answer503)
  const good = await startUpstreams(2)
  const rig = await buildRig({ targets: [bad.url, good[0].url, good[1].url] })
  t.teardown(async () => { await rig.app.close(); await Promise.all([bad, ...good].map((u) => u.close())); clock.uninstall() })

  await rig.hitUntil(() => rig.target(bad.url)!.failures === 4)
  t.equal(rig.target(bad.url)!.state, 'healthy', 'four failures are not enough')
  t.equal(rig.target(bad.url)!.consecutiveFailures, 4)
  t.equal(rig.target(bad.url)!.ejectedUntil, null)

  await rig.hitUntil(() => rig.target(bad.url)!.failures === 5)
  const snapshot = rig.target(bad.url)!
  t.equal(snapshot.state, 'ejected', 'the fifth within 10 s ejects')
  t.equal(snapshot.ejectedUntil, Date.now() + 30_000, 'for the default 30 s')
  const change = rig.changes.at(-1)!
  t.same({ target: change.target, from: change.from, to: change.to }, { target: bad.url, from: 'healthy', to: 'ejected' })
  t.equal(change.reason, 'passive: 5 failures within 10s (last: HTTP 503); ejected for 30s')
  const line = rig.logs.find((l) => l.to === 'ejected')!
  t.equal(line.level, 40, 'one warn line')
  t.match(line.msg, `${bad.url} of upstream default is ejected (passive: 5 failures within 10s`)

  const before = bad.hits.length
  const seen = await rig.hit(20)
  t.equal(bad.hits.length, before, 'no request reaches the ejected target')
  t.same(new Set(seen), new Set(['u0', 'u1']))
})

test('failures spread beyond failWindow never add up; closer ones do', async (t) => {
  const clock = installClock()
  const bad = await startUpstream('bad', answer503)
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [bad.url, good.url] })
  t.teardown(async () => { await rig.app.close(); await bad.close(); await good.close(); clock.uninstall() })

  // One failure every 2.6 s: any five of them span 10.4 s, more than the 10 s window.
  for (let n = 1; n <= 10; n++) {
    await rig.hitUntil(() => rig.target(bad.url)!.failures === n)
    clock.tick(2600)
  }
  t.equal(rig.target(bad.url)!.state, 'healthy', 'ten failures, never five within 10 s')

  clock.tick(20_000)
  // One every 2.5 s: five of them span exactly 10 s, which is within the window.
  for (let n = 11; n <= 14; n++) {
    await rig.hitUntil(() => rig.target(bad.url)!.failures === n)
    clock.tick(2500)
  }
  t.equal(rig.target(bad.url)!.state, 'healthy', 'four close failures after a quiet spell are not enough')
  await rig.hitUntil(() => rig.target(bad.url)!.failures === 15)
  t.equal(rig.target(bad.url)!.state, 'ejected', 'the fifth within 10 s ejects')
})

test('connection errors count: a target that refuses connections is ejected', async (t) => {
  const clock = installClock()
  const doomed = await startUpstream('doomed')
  const good = await startUpstream('good')
  await doomed.close()
  const rig = await buildRig({ targets: [doomed.url, good.url], passive: { maxFails: 2 } })
  t.teardown(async () => { await rig.app.close(); await good.close(); clock.uninstall() })

  await rig.hitUntil(() => rig.target(doomed.url)!.state === 'ejected', 20)
  t.equal(rig.target(doomed.url)!.failures, 2)
  t.equal(rig.changes[0].reason, 'passive: 2 failures within 10s (last: ECONNREFUSED); ejected for 30s')
})

test('4xx answers never count against a target', async (t) => {
  const clock = installClock()
  const missing = await startUpstream('missing', (_req, res) => { res.statusCode = 404; res.end('nope') })
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [missing.url, good.url], passive: { maxFails: 1 } })
  t.teardown(async () => { await rig.app.close(); await missing.close(); await good.close(); clock.uninstall() })

  const seen = await rig.hit(20)
  t.equal(seen.filter((s) => s === '404').length, 10, 'the 404s reached the client')
  const snapshot = rig.target(missing.url)!
  t.equal(snapshot.state, 'healthy')
  t.equal(snapshot.failures, 0)
  t.equal(snapshot.consecutiveFailures, 0)
  t.same(rig.changes, [])
})

test('passive.statuses chooses which 5xx count; a good answer resets consecutiveFailures', async (t) => {
  const clock = installClock()
  let status = 500
  const flaky = await startUpstream('flaky', (_req, res) => { res.statusCode = status; res.end('x') })
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [flaky.url, good.url], passive: { maxFails: 3, statuses: [500] } })
  t.teardown(async () => { await rig.app.close(); await flaky.close(); await good.close(); clock.uninstall() })

  await rig.hitUntil(() => rig.target(flaky.url)!.failures === 2)
  t.equal(rig.target(flaky.url)!.consecutiveFailures, 2)
  status = 503
  await rig.hit(4)
  t.equal(rig.target(flaky.url)!.failures, 2, '503 is not in statuses: not a failure')
  t.equal(rig.target(flaky.url)!.consecutiveFailures, 0, 'and it resets the consecutive count')
  status = 500
  await rig.hitUntil(() => rig.target(flaky.url)!.state === 'ejected', 10)
  t.equal(rig.target(flaky.url)!.failures, 3, 'the third 500 within the window ejects')
})

test('a client that goes away is not a target failure', async (t) => {
  const clock = installClock()
  const held: http.ServerResponse[] = []
  let mode: 'hold' | 'fail' = 'hold'
  const slow = await startUpstream('slow', (_req, res) => {
    if (mode === 'hold') held.push(res)
    else { res.statusCode = 502; res.end('bad') }
  })
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [slow.url, good.url], passive: { maxFails: 1 } })
  await rig.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (rig.app.server.address() as AddressInfo).port
  t.teardown(async () => {
    for (const res of held) res.end()
    await rig.app.close(); await slow.close(); await good.close(); clock.uninstall()
  })

  for (let i = 0; i < 3; i++) {
    const before = held.length
    // Round robin alternates: the request that reaches `slow` is held there, and its client gives up.
    for (let tries = 0; held.length === before && tries < 2; tries++) {
      const req = http.get({ port, host: '127.0.0.1', path: '/' })
      req.on('error', () => {})
      const gotHeld = await until(() => held.length > before || req.destroyed)
      if (held.length > before) {
        req.destroy()
        t.ok(gotHeld)
        await until(() => rig.target(slow.url)!.inflight === 0)
      } else {
        req.destroy()
      }
    }
  }
  t.equal(held.length, 3, 'three requests reached the slow target and were abandoned by their clients')
  t.equal(rig.target(slow.url)!.inflight, 0, 'their tries ended')
  t.equal(rig.target(slow.url)!.failures, 0, 'none counted as a failure')
  t.equal(rig.target(slow.url)!.state, 'healthy')

  mode = 'fail'
  await rig.hitUntil(() => rig.target(slow.url)!.state === 'ejected', 4)
  t.pass('while one real failure ejects it (maxFails 1)')
})

test('the ejection ends after ejectTime: the target takes traffic again, reported once', async (t) => {
  const clock = installClock()
  let failing = true
  const flaky = await startUpstream('flaky', (_req, res) => { res.statusCode = failing ? 503 : 200; res.end('flaky') })
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [flaky.url, good.url], passive: { ejectTime: 5000 } })
  t.teardown(async () => { await rig.app.close(); await flaky.close(); await good.close(); clock.uninstall() })

  await rig.hitUntil(() => rig.target(flaky.url)!.state === 'ejected')
  t.equal(rig.changes.at(-1)!.reason, 'passive: 5 failures within 10s (last: HTTP 503); ejected for 5s')
  failing = false
  clock.tick(4999)
  t.equal(rig.target(flaky.url)!.state, 'ejected', 'still out 1 ms before the end')
  clock.tick(1)
  const snapshot = rig.target(flaky.url)!
  t.equal(snapshot.state, 'healthy')
  t.equal(snapshot.ejectedUntil, null)
  t.same(rig.changes.slice(-1).map((c) => [c.from, c.to, c.reason]), [['ejected', 'healthy', 'ejection ended after 5s']])
  const line = rig.logs.at(-1)!
  t.equal(line.level, 30)
  t.match(line.msg, `${flaky.url} of upstream default is taking traffic again (ejection ended after 5s)`)
  t.same(new Set(await rig.hit(4)), new Set(['flaky', 'good']), 'traffic reaches it again')
})

test('an ejection ended early (a passing active probe) or overridden (disable) leaves its timer harmless', async (t) => {
  const clock = installClock()
  const bad = await startUpstreams(2, answer503)
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [bad[0].url, bad[1].url, good.url], passive: { maxFails: 1 } })
  t.teardown(async () => { await rig.app.close(); await Promise.all([...bad, good].map((u) => u.close())); clock.uninstall() })
  const pool = poolOf(rig.app)

  await rig.hitUntil(() => rig.target(bad[0].url)!.state === 'ejected')
  // The active checker ends an ejection this way when a probe passes.
  pool.health.transition(pool.target(bad[0].url)!, 'healthy', 'active: probe passed')
  t.equal(rig.target(bad[0].url)!.ejectedUntil, null, 'ejectedUntil cleared')
  rig.app.lolly.disable('default', bad[0].url)

  await rig.hitUntil(() => rig.target(bad[1].url)!.state === 'ejected')
  rig.app.lolly.disable('default', bad[1].url)
  const count = rig.changes.length
  clock.tick(60_000)
  t.equal(rig.changes.length, count, 'no timer fires a transition afterwards')
  t.equal(rig.target(bad[0].url)!.state, 'disabled')
  t.equal(rig.target(bad[1].url)!.state, 'disabled')
})

test('passive: false turns ejection off; failures are still counted', async (t) => {
  const clock = installClock()
  const bad = await startUpstream('bad', answer503)
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [bad.url, good.url], passive: false })
  t.teardown(async () => { await rig.app.close(); await bad.close(); await good.close(); clock.uninstall() })

  await rig.hit(30)
  const { failures, consecutiveFailures } = rig.target(bad.url)!
  t.ok(failures >= 15, `every try on it failed (${failures})`)
  t.equal(consecutiveFailures, failures)
  t.equal(rig.target(bad.url)!.state, 'healthy')
})

/** Polls with setImmediate (setTimeout is faked) until `condition` holds or 2000 turns passed. */
async function until (condition: () => boolean): Promise<boolean> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return true
    await new Promise((resolve) => setImmediate(resolve))
  }
  return condition()
}

test('short windows read in ms; no ejection timer survives destroy', async (t) => {
  const clock = installClock()
  const bad = await startUpstream('bad', answer503)
  const good = await startUpstream('good')
  const rig = await buildRig({ targets: [bad.url, good.url], passive: { maxFails: 2, failWindow: 500, ejectTime: 750, maxEjectTime: 750 } })
  t.teardown(async () => { await rig.app.close(); await bad.close(); await good.close(); clock.uninstall() })

  await rig.hitUntil(() => rig.target(bad.url)!.state === 'ejected')
  t.equal(rig.changes[0].reason, 'passive: 2 failures within 500ms (last: HTTP 503); ejected for 750ms')
  await rig.app.lolly.upstreams.default.dispatcher.destroy()
  clock.tick(10_000)
  t.equal(rig.target(bad.url)!.state, 'ejected', 'the ejection timer was cleared')
  t.equal(rig.changes.length, 1)
})
