import diagnosticsChannel from 'node:diagnostics_channel'
import { test, type Test } from 'tap'
import type { MembershipChange } from '../lib/pool/pool-events.js'
import { buildRig, installClock, tally, type Rig } from './helpers/health-rig.js'
import { poolOf } from './helpers/internals.js'
import { settle, testProvider, type TestProvider } from './helpers/target-provider.js'
import { startUpstreams, type Upstream } from './helpers/upstreams.js'

// A `discover` entry: the provider's sets become the pool's targets, diffed so that targets that
// stay keep everything, and targets that leave drain for `hold` before they go.

async function rigWith (t: Test, provider: TestProvider, ups: Upstream[], extra: Record<string, unknown> = {}): Promise<{ rig: Rig, clock: ReturnType<typeof installClock> }> {
  const clock = installClock()
  const rig = await buildRig({ targets: [{ discover: provider.discover, name: 'registry', hold: 5_000, ...extra }] })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  await rig.app.ready()
  return { rig, clock }
}

test('a provider\'s sets become the pool\'s targets; each change is an event, a channel message and a log line naming the source', async (t) => {
  const ups = await startUpstreams(3)
  const provider = testProvider([ups[0].url])
  const { rig, clock } = await rigWith(t, provider, ups)
  const changes: MembershipChange[] = []
  rig.app.lolly.on('target', (change) => changes.push(change))
  const published: unknown[] = []
  const onMessage = (message: unknown): void => { published.push(message) }
  diagnosticsChannel.subscribe('lolly:target-membership', onMessage)
  t.teardown(() => diagnosticsChannel.unsubscribe('lolly:target-membership', onMessage))

  t.match(rig.app.lolly.targets, [{ url: ups[0].url, state: 'healthy', source: 'registry' }], 'ready() waited for the first set')
  t.same(tally(await rig.hit(2)), { u0: 2 })

  await provider.yieldSet([ups[0].url, { url: ups[1].url, weight: 3 }, ups[2].url])
  t.same(changes.map((c) => `${c.change} ${c.target} ${c.source}`), [`added ${ups[1].url} registry`, `added ${ups[2].url} registry`])
  t.same(published, changes, 'the same changes on the diagnostics channel')
  t.match(rig.logs.filter((l) => /was added/.test(l.msg)).at(-1), { level: 30, source: 'registry', msg: `lolly: ${ups[2].url} was added to upstream default by registry` })
  t.same(tally(await rig.hit(10)), { u0: 2, u1: 6, u2: 2 })

  await provider.yieldSet([ups[0].url, ups[1].url])
  t.match(rig.target(ups[2].url), { state: 'draining' }, 'a target that left drains at once')
  t.match(rig.changes.at(-1), { target: ups[2].url, from: 'healthy', to: 'draining', reason: 'no longer in registry' })
  t.same(tally(await rig.hit(4)), { u0: 2, u1: 2 }, 'no new request goes to it; the weight of 1 applies in place')
  await clock.tickAsync(5_000)
  await settle()
  t.equal(rig.target(ups[2].url), undefined, 'removed once hold passed')
  t.same(changes.map((c) => c.change), ['added', 'added', 'removed'])
  t.match(rig.logs.at(-1), { msg: `lolly: ${ups[2].url} was removed from upstream default by registry` })

  t.match(rig.app.lolly.sources, [{ upstream: 'default', name: 'registry', type: 'discover', targets: 2, ttl: null, nextLookupAt: null, lastError: null, lookups: { ok: 3, empty: 0, failed: 0 } }])
})

test('a target back within hold returns in the state it left in, with its counters', async (t) => {
  const ups = await startUpstreams(3)
  const provider = testProvider(ups.map((u) => u.url))
  const { rig, clock } = await rigWith(t, provider, ups, { hold: 120_000 })
  const pool = poolOf(rig.app)
  await rig.hit(6)
  const before = rig.target(ups[0].url)!
  rig.app.lolly.disable('default', ups[1].url)
  // Five failures within the window eject u2 (passive health's defaults).
  for (let i = 0; i < 5; i++) pool.tryFailed(pool.target(ups[2].url)!, 'ECONNRESET')
  t.match(rig.target(ups[2].url), { state: 'ejected' })
  const ejectedUntil = rig.target(ups[2].url)!.ejectedUntil!

  await provider.yieldSet([])
  t.same(rig.app.lolly.targets.map((s) => s.state), ['draining', 'draining', 'draining'], 'an empty set from a provider is believed at once')
  t.match(rig.app.lolly.sources[0], { targets: 0, lookups: { empty: 1 } })
  t.equal((await rig.app.inject('/')).statusCode, 503)

  await clock.tickAsync(10_000)
  await provider.yieldSet(ups.map((u) => u.url))
  t.match(rig.target(ups[0].url), { state: 'healthy', requests: before.requests }, 'healthy again, its counters kept')
  t.match(rig.target(ups[1].url), { state: 'disabled' }, 'the operator\'s disable stands')
  t.match(rig.target(ups[2].url), { state: 'ejected', ejectedUntil })
  t.match(rig.changes.at(-1), { target: ups[2].url, from: 'draining', to: 'ejected', reason: /^back in registry; ejected for the 20s left of its ejection$/ })
  await clock.tickAsync(20_000)
  t.match(rig.target(ups[2].url), { state: 'healthy' }, 'the ejection ends when it would have')

  // An ejection that ran out while the target was gone: back healthy.
  for (let i = 0; i < 5; i++) pool.tryFailed(pool.target(ups[2].url)!, 'ECONNRESET')
  t.match(rig.target(ups[2].url), { state: 'ejected' })
  await provider.yieldSet([ups[0].url, ups[1].url])
  // Its second ejection in a row lasts 60 s.
  await clock.tickAsync(61_000)
  await provider.yieldSet(ups.map((u) => u.url))
  t.match(rig.changes.at(-1), { target: ups[2].url, to: 'healthy', reason: 'back in registry; its ejection ended while it was gone' })
  pool.tryFailed(pool.target(ups[2].url)!, 'ECONNRESET')
  t.match(rig.target(ups[2].url), { state: 'ejected' }, 'on probation: its first failure ejects it again')
})

test('a target back within hold resumes its ejection only within maxEjectedPercent: otherwise it comes back healthy, on probation', async (t) => {
  // Found by test/fuzz/health-model.test.ts: a flapping answer brought targets back ejected past the
  // cap, down to none healthy.
  const ups = await startUpstreams(3)
  const provider = testProvider(ups.map((u) => u.url))
  const { rig } = await rigWith(t, provider, ups, { hold: 120_000 })
  const pool = poolOf(rig.app)
  const eject = (i: number) => { for (let n = 0; n < 5; n++) pool.tryFailed(pool.target(ups[i].url)!, 'ECONNRESET') }
  eject(2)
  await provider.yieldSet([ups[0].url, ups[1].url])
  eject(1)
  t.same(rig.app.lolly.targets.map((s) => s.state), ['healthy', 'ejected', 'draining'], 'u1 ejected while u2 is away: one of two, within the cap')
  await provider.yieldSet(ups.map((u) => u.url))
  t.match(rig.changes.at(-1), { target: ups[2].url, from: 'draining', to: 'healthy', reason: /^back in registry; its ejection not resumed/ })
  t.same(rig.app.lolly.targets.map((s) => s.state), ['healthy', 'ejected', 'healthy'], 'two of three ejected would pass the cap of 50 %')
  t.same(tally(await rig.hit(4)), { u0: 2, u2: 2 })
})

test('a target that leaves with requests in flight goes only once they finished', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const ups = await startUpstreams(2, (req, res) => {
    if (req.url === '/slow') held.then(() => res.end('slow done'), t.error)
    else res.end('fast')
  })
  const provider = testProvider([ups[0].url])
  const { rig, clock } = await rigWith(t, provider, ups, { hold: 1_000 })
  const slow = rig.app.inject('/slow')
  await settle(20)
  t.equal(rig.target(ups[0].url)!.inflight, 1)
  await provider.yieldSet([ups[1].url])
  await clock.tickAsync(2_000)
  await settle()
  t.match(rig.target(ups[0].url), { state: 'draining', inflight: 1 }, 'kept past hold while a request is in flight')
  release()
  t.equal((await slow).body, 'slow done', 'the request in flight finished')
  await settle()
  t.equal(rig.target(ups[0].url), undefined, 'then removed')
})

test('the provider\'s own word: draining drains a listed target, ready returns it as it was; a new draining one is not added', async (t) => {
  const ups = await startUpstreams(4)
  const provider = testProvider(ups.map((u) => u.url))
  const { rig } = await rigWith(t, provider, ups)
  const pool = poolOf(rig.app)
  rig.app.lolly.disable('default', ups[2].url)
  for (let i = 0; i < 5; i++) pool.tryFailed(pool.target(ups[3].url)!, 'ECONNRESET')
  t.match(rig.target(ups[3].url), { state: 'ejected' })
  const draining = ups.slice(1).map((u) => ({ url: u.url, state: 'draining' }))
  await provider.yieldSet([ups[0].url, ...draining, { url: 'http://127.0.0.1:9', state: 'draining' }])
  t.same(rig.app.lolly.targets.map((s) => s.state), ['healthy', 'draining', 'draining', 'draining'])
  t.match(rig.changes.at(-1), { reason: 'registry reports it terminating' })
  t.equal(rig.target('http://127.0.0.1:9'), undefined, 'a terminating instance never seen is not added')
  t.equal(rig.app.lolly.sources[0].targets, 4, 'a terminating instance is still listed')

  await provider.yieldSet(ups.map((u) => ({ url: u.url, state: 'ready' })))
  t.same(rig.app.lolly.targets.map((s) => s.state), ['healthy', 'healthy', 'disabled', 'ejected'], 'each returns as it was: the operator\'s disable and the ejection stand')
  t.match(rig.changes.find((c) => c.target === ups[1].url && c.to === 'healthy'), { reason: 'registry reports it ready again' })

  // Terminating, then gone, then back: one retirement, one return.
  await provider.yieldSet([ups[0].url, { url: ups[1].url, state: 'draining' }])
  await provider.yieldSet([ups[0].url])
  await provider.yieldSet([ups[0].url, ups[1].url])
  t.match(rig.target(ups[1].url), { state: 'healthy' })
})

test('an operator\'s command during a target\'s hold stands when it comes back', async (t) => {
  const ups = await startUpstreams(3)
  const provider = testProvider(ups.map((u) => u.url))
  const { rig, clock } = await rigWith(t, provider, ups, { hold: 1_000 })
  await provider.yieldSet([ups[0].url])
  const drained = rig.app.lolly.drain('default', ups[1].url)
  rig.app.lolly.disable('default', ups[2].url)
  await provider.yieldSet(ups.map((u) => u.url))
  await drained
  t.same(rig.app.lolly.targets.map((s) => s.state), ['healthy', 'draining', 'disabled'], 'the operator\'s drain and disable stand')
  await clock.tickAsync(2_000)
  await settle()
  t.equal(rig.app.lolly.targets.length, 3, 'listed again: nothing is removed')
})

test('a value that is not a target list is refused whole and logged once; the last set stays', async (t) => {
  const ups = await startUpstreams(2)
  const provider = testProvider([ups[0].url])
  const { rig } = await rigWith(t, provider, ups)
  await provider.yieldSet('http://127.0.0.1:9')
  await provider.yieldSet([ups[1].url, { url: 'ftp://x' }])
  await provider.yieldSet([{ url: ups[1].url, wieght: 2 }])
  t.match(rig.app.lolly.targets, [{ url: ups[0].url, state: 'healthy' }], 'the last good set stays')
  const warnings = rig.logs.filter((l) => l.level === 40 && l.source === 'registry')
  t.equal(warnings.length, 1, 'one line for the streak')
  t.match(warnings[0], { msg: /^lolly: registry of upstream default: refused a value of discover\(\) \(it yielded string, not an array of targets\); keeping its 1 targets$/ })
  t.match(rig.app.lolly.sources[0], { lookups: { ok: 1, failed: 3 }, lastError: { message: /registry\[0\]\.wieght is not a known option/ } })
  await provider.yieldSet([ups[1].url])
  t.ok(rig.logs.some((l) => l.msg === 'lolly: registry of upstream default gives target sets again after 3 failures'))
})

test('a provider that throws or ends is called again after a backoff; its signal aborts when the app closes', async (t) => {
  const ups = await startUpstreams(1)
  const provider = testProvider([ups[0].url])
  const { rig, clock } = await rigWith(t, provider, ups, { })
  await provider.fail(new Error('registry unreachable'))
  t.equal(provider.calls, 1)
  t.match(rig.logs.at(-1), { level: 40, msg: 'lolly: registry of upstream default: discover() failed (registry unreachable); keeping its 1 targets' })
  await clock.tickAsync(1_000)
  await settle()
  t.equal(provider.calls, 2, 'called again after minInterval')
  await provider.end()
  await clock.tickAsync(1_000)
  await settle()
  t.equal(provider.calls, 2, 'the second failure waits twice as long')
  await clock.tickAsync(1_000)
  await settle()
  t.equal(provider.calls, 3)
  t.match(rig.app.lolly.sources[0], { lookups: { failed: 2 }, lastError: { message: 'its iterable ended' } })
  t.equal(rig.logs.filter((l) => l.level === 40).length, 1, 'one warning for the streak')
  t.equal((await rig.app.inject('/')).statusCode, 200, 'the last set kept serving')

  await provider.fail(new Error('again'))
  t.notOk(provider.signals.at(-1)!.aborted)
  await rig.app.close()
  t.ok(provider.signals.every((signal) => signal.aborted), 'close() aborts the provider, also during a backoff')
})

test('one failure, then values again: said in the singular; a thrown non-error is shown as text', async (t) => {
  const ups = await startUpstreams(1)
  const provider = testProvider([ups[0].url])
  const { rig, clock } = await rigWith(t, provider, ups)
  await provider.fail('registry said no' as never)
  t.match(rig.app.lolly.sources[0].lastError, { message: 'registry said no' })
  await clock.tickAsync(1_000)
  await provider.yieldSet([ups[0].url])
  t.ok(rig.logs.some((l) => l.msg === 'lolly: registry of upstream default gives target sets again after 1 failure'))
})

test('two sources listing one URL: the first keeps it, the other says whose it is', async (t) => {
  const ups = await startUpstreams(1)
  const first = testProvider([ups[0].url])
  const second = testProvider([ups[0].url])
  const clock = installClock()
  const rig = await buildRig({ targets: [{ discover: first.discover, name: 'one' }, { discover: second.discover, name: 'two' }] })
  t.teardown(async () => { await rig.app.close(); await ups[0].close(); clock.uninstall() })
  await rig.app.ready()
  t.same(rig.app.lolly.targets.map((s) => s.source), ['one'])
  t.ok(rig.logs.some((l) => l.msg === `lolly: two of upstream default lists ${ups[0].url}, which comes from one; it stays its first owner's`))
  t.same(rig.app.lolly.sources.map((s) => s.targets), [1, 0])
})

test('a provider whose discover throws at once, or returns something that is not iterable, is retried the same way', async (t) => {
  const clock = installClock()
  let calls = 0
  const rig = await buildRig({
    targets: [
      { discover: () => { calls++; throw new Error('no config') } },
      { discover: () => 42 as never },
      'http://127.0.0.1:1'
    ]
  })
  t.teardown(async () => { await rig.app.close(); clock.uninstall() })
  await rig.app.ready()
  t.same(rig.app.lolly.sources.map((s) => [s.name, s.lookups.failed]), [['discover', 1], ['discover#2', 1]], 'unnamed providers are numbered')
  t.match(rig.app.lolly.sources[1].lastError, { message: /is not (async )?iterable/ })
  await clock.tickAsync(1_000)
  t.equal(calls, 2)
})

test('maxTargets keeps ready targets first, then earlier tiers, then URL order, said once per streak', async (t) => {
  const ups = await startUpstreams(3)
  const urls = ups.map((u) => u.url).sort()
  const provider = testProvider([urls[2], urls[0], urls[1]])
  const { rig } = await rigWith(t, provider, ups, { maxTargets: 2 })
  t.same(rig.app.lolly.targets.map((s) => s.url), [urls[0], urls[1]])
  await provider.yieldSet([urls[1], urls[2], urls[0]])
  const capped = rig.logs.filter((l) => /maxTargets/.test(l.msg))
  t.equal(capped.length, 1)
  t.match(capped[0], { level: 40, answered: 3, maxTargets: 2, msg: 'lolly: registry of upstream default answered 3 targets; keeping the first 2 (maxTargets)' })
  await provider.yieldSet([urls[2]])
  t.match(rig.logs.find((l) => /within maxTargets/.test(l.msg)), { level: 30 })
  await provider.yieldSet([{ url: urls[0], backup: true }, { url: urls[1], state: 'draining' }, urls[2]])
  t.same(rig.app.lolly.targets.map((s) => [s.url, s.state, s.tier]).sort(), [[urls[0], 'healthy', 1], [urls[2], 'healthy', 0]],
    'kept: the ready primary, then the ready backup; the terminating one left, its hold cut short: held targets count against maxTargets')
  t.match(rig.changes.findLast((c) => c.target === urls[1]), { to: 'draining', reason: 'no longer in registry' })
})

test('a URL the pool holds already stays its first owner\'s, said once', async (t) => {
  const ups = await startUpstreams(2)
  const provider = testProvider([ups[0].url, ups[1].url])
  const clock = installClock()
  const rig = await buildRig({ targets: [ups[0].url, { discover: provider.discover }] })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  await rig.app.ready()
  t.same(rig.app.lolly.targets.map((s) => [s.url, s.source]), [[ups[0].url, null], [ups[1].url, 'discover']])
  await provider.yieldSet([ups[0].url, ups[1].url])
  await provider.yieldSet([ups[1].url])
  await provider.yieldSet([ups[0].url, ups[1].url])
  const taken = rig.logs.filter((l) => /stays its first owner/.test(l.msg))
  t.equal(taken.length, 2, 'once while listed, once more after it left the list and came back')
  t.match(taken[0], { msg: `lolly: discover of upstream default lists ${ups[0].url}, which the pool holds already (configured or added at runtime); it stays its first owner's` })
  t.same(rig.app.lolly.targets.map((s) => s.state), ['healthy', 'healthy'], 'the static target was never drained by the source')
})

test('runtime management: removeTarget refuses a discovered target, drain and enable work, an enabled leaving target drains again', async (t) => {
  const ups = await startUpstreams(2)
  const provider = testProvider([ups[0].url, ups[1].url])
  const { rig, clock } = await rigWith(t, provider, ups, { hold: 1_000 })
  await t.rejects(() => rig.app.lolly.removeTarget('default', ups[0].url), {
    code: 'FST_LOLLY_DISCOVERED_TARGET',
    statusCode: 409,
    message: `Target ${ups[0].url} of upstream "default" comes from registry: it leaves when that source no longer lists it (drain or disable it to take it out of service)`
  })
  await rig.app.lolly.drain('default', ups[0].url)
  rig.app.lolly.enable('default', ups[0].url)
  t.match(rig.target(ups[0].url), { state: 'healthy' })

  const pool = poolOf(rig.app)
  const target = pool.target(ups[1].url)!
  pool.tryStarted(target)
  await provider.yieldSet([ups[0].url])
  await clock.tickAsync(1_000)
  rig.app.lolly.enable('default', ups[1].url)
  await settle()
  t.match(rig.target(ups[1].url), { state: 'draining' }, 'still out of its source: drained again')
  t.match(rig.changes.at(-1), { from: 'healthy', to: 'draining', reason: 'no longer in registry' })
  pool.tryEnded(target)
  await settle()
  t.equal(rig.target(ups[1].url), undefined, 'removed once idle')
})

test('a new tier or maxConnections applies in place: state, counters and connections stay', async (t) => {
  const ups = await startUpstreams(2)
  const provider = testProvider([ups[0].url, ups[1].url])
  const { rig } = await rigWith(t, provider, ups)
  await rig.hit(4)
  const requests = rig.target(ups[1].url)!.requests
  await provider.yieldSet([ups[0].url, { url: ups[1].url, backup: true, maxConnections: 5 }])
  t.match(rig.target(ups[1].url), { state: 'healthy', backup: true, tier: 1, maxConnections: 5, requests })
  t.same(tally(await rig.hit(4)), { u0: 4 }, 'a backup takes no traffic while a primary can')
  await provider.yieldSet([{ url: ups[0].url, backup: true }, { url: ups[1].url, backup: true, maxConnections: 5 }])
  t.same(tally(await rig.hit(4)), { u0: 2, u1: 2 }, 'both backups: the backup tier takes the traffic')
  await provider.yieldSet([{ url: ups[0].url, backup: true }, ups[1].url])
  t.same(tally(await rig.hit(4)), { u1: 4 }, 'back to primary at once')
  await provider.yieldSet([{ url: ups[0].url, backup: true, maxConnections: 2 }, ups[1].url])
  t.match(rig.target(ups[0].url), { tier: 1, maxConnections: 2 }, 'a new cap alone')
  t.same(rig.changes, [], 'no state changed')
})

test('a pool closed under its sources stops them: no more lookups, the provider\'s signal aborts', async (t) => {
  const ups = await startUpstreams(2)
  const provider = testProvider([ups[0].url])
  const { rig } = await rigWith(t, provider, ups)
  await rig.app.lolly.upstreams.default.dispatcher.close()
  await provider.yieldSet([ups[0].url, ups[1].url])
  t.ok(provider.signals[0].aborted, 'the provider is told to stop')
  t.same(rig.app.lolly.targets.map((s) => s.url), [ups[0].url], 'the value after the close changed nothing')
})

test('a provider cannot set down: out of service is state draining', async (t) => {
  const ups = await startUpstreams(1)
  const provider = testProvider([ups[0].url])
  const { rig } = await rigWith(t, provider, ups)
  await provider.yieldSet([{ url: ups[0].url, down: true }])
  t.match(rig.app.lolly.sources[0].lastError, { message: /^FST_LOLLY_INVALID_OPTION: registry\[0\]\.down is not a known option \(known: url, name, weight, backup, maxConnections, state\)/ })
})

test('a pool whose only source has not answered waits a bounded time at ready, then answers 503 until it does', async (t) => {
  const ups = await startUpstreams(1)
  const provider = testProvider()
  const rig = await buildRig({ targets: [{ discover: provider.discover }], resolver: { timeout: 50, tries: 2 } })
  t.teardown(async () => { await rig.app.close(); await ups[0].close() })
  const started = Date.now()
  await rig.app.ready()
  t.ok(Date.now() - started >= 90, 'waited timeout × tries for the first set')
  t.match(rig.logs.at(-1), { level: 40, upstream: 'default', sources: ['discover'], msg: 'lolly: upstream default has no target yet: it answers 503 until discover lists one' })
  const res = await rig.app.inject('/')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'FST_LOLLY_NO_AVAILABLE_TARGET' })
  await provider.yieldSet([ups[0].url])
  t.equal((await rig.app.inject('/')).statusCode, 200)
})

test('a pool none of whose sources has answered names them all', async (t) => {
  const rig = await buildRig({ targets: [{ discover: testProvider().discover, name: 'a' }, { discover: testProvider().discover, name: 'b' }], resolver: { timeout: 20, tries: 1 } })
  t.teardown(() => rig.app.close())
  await rig.app.ready()
  t.match(rig.logs.at(-1), { level: 40, sources: ['a', 'b'], msg: 'lolly: upstream default has no target yet: it answers 503 until a, b list one' })
})

test('a target moved to the backup tier counts as a backup for panic mode at once', async (t) => {
  const ups = await startUpstreams(3)
  const provider = testProvider(ups.map((u) => u.url))
  const clock = installClock()
  const rig = await buildRig({ targets: [{ discover: provider.discover }], panicPercent: 50 })
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  await rig.app.ready()
  const pool = poolOf(rig.app)
  const panics: boolean[] = []
  rig.app.lolly.on('panic', (change) => panics.push(change.panicking))
  pool.health.transition(pool.target(ups[1].url)!, 'unhealthy', 'test')
  pool.health.transition(pool.target(ups[2].url)!, 'unhealthy', 'test')
  t.same(panics, [true], '1 of 3 healthy, no healthy backup: panic')
  await provider.yieldSet([{ url: ups[0].url, backup: true }, ups[1].url, ups[2].url])
  t.same(panics, [true, false], 'a healthy backup now: out of panic mode')
  t.equal(rig.app.lolly.upstreams.default.panicking, false)
})
