import type http from 'node:http'
import { test, type Test } from 'tap'
import { buildRig, installClock, tally, type Rig } from './helpers/health-rig.js'
import { startUpstream, startUpstreams, type Upstream } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

/** An upstream that holds every request until `release()`; `arrived(n)` resolves once n were held. */
interface HoldingUpstream extends Upstream {
  held: http.ServerResponse[]
  /** Set to false to answer at once from now on. */
  holding: boolean
  arrived (n: number): Promise<void>
  release (): void
}

async function holdingUpstream (name: string): Promise<HoldingUpstream> {
  const held: http.ServerResponse[] = []
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const upstream = await startUpstream(name, (_req, res) => {
    if (!self.holding) { res.end(`${name} at once`); return }
    held.push(res)
    for (const w of waiters.filter((w) => held.length >= w.n)) w.resolve()
  })
  const self: HoldingUpstream = Object.assign(upstream, {
    held,
    holding: true,
    arrived: (n: number) => new Promise<void>((resolve) => {
      if (held.length >= n) resolve()
      else waiters.push({ n, resolve })
    }),
    release: () => { for (const res of held.splice(0)) res.end(`${name} released`) }
  })
  return self
}

async function withRig (t: Test, options: Parameters<typeof buildRig>[0], ups: Upstream[]): Promise<Rig> {
  const clock = installClock()
  const rig = await buildRig(options)
  t.teardown(async () => { await rig.app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  return rig
}

test('addTarget: the new target takes traffic at once, reported as a target event and a log line', async (t) => {
  const ups = await startUpstreams(2)
  const rig = await withRig(t, { targets: [ups[0].url] }, ups)
  const added: string[] = []
  rig.app.lolly.on('target', (change) => added.push(`${change.change} ${change.target}`))

  const snapshot = rig.app.lolly.addTarget('default', { url: ups[1].url + '/', weight: 3 })
  t.match(snapshot, { url: ups[1].url, upstream: 'default', state: 'healthy', weight: 3, effectiveWeight: 3, inflight: 0 })
  t.same(added, [`added ${ups[1].url}`])
  t.match(rig.logs.at(-1), { level: 30, msg: `lolly: ${ups[1].url} was added to upstream default` })
  t.same(tally(await rig.hit(8)), { u0: 2, u1: 6 })

  const down = rig.app.lolly.addTarget('default', 'http://127.0.0.1:1')
  t.equal(down.state, 'healthy')
  rig.app.lolly.disable('default', 'http://127.0.0.1:1')
  t.equal(rig.app.lolly.addTarget('default', { url: 'http://127.0.0.1:2', down: true }).state, 'disabled')
})

test('addTarget validates like register', async (t) => {
  const ups = await startUpstreams(1)
  const rig = await withRig(t, { targets: [ups[0].url] }, ups)
  const api = rig.app.lolly
  t.throws(() => api.addTarget('default', { url: 'http://127.0.0.1:3', weight: 0 }), { code: 'FST_LOLLY_INVALID_OPTION', message: /^target\.weight must be/ })
  t.throws(() => api.addTarget('default', { url: 'http://127.0.0.1:3', weight: 1_000_001 }), {
    code: 'FST_LOLLY_INVALID_OPTION', message: 'target.weight must be an integer from 1 to 1000000, got 1000001'
  }, 'one weight limit: the options\', setWeight\'s and a reload\'s')
  t.throws(() => api.addTarget('default', { url: 'ftp://x' }), { code: 'FST_LOLLY_INVALID_OPTION', message: /^target\.url must be an http: or https: URL/ })
  t.throws(() => api.addTarget('default', 42 as never), { code: 'FST_LOLLY_INVALID_OPTION', message: /^target must be/ })
  t.throws(() => api.addTarget('default', { url: 'http://127.0.0.1:3', wieght: 2 } as never), { code: 'FST_LOLLY_INVALID_OPTION', message: /^target\.wieght is not a known option/ })
  t.throws(() => api.addTarget('default', ups[0].url), { code: 'FST_LOLLY_INVALID_OPTION', message: /^target must be a URL not yet in upstream "default"/ })
  t.throws(() => api.addTarget('default', { url: ups[0].url }), { code: 'FST_LOLLY_INVALID_OPTION', message: /^target\.url must be a URL not yet/ })
  t.throws(() => api.addTarget('nope', ups[0].url), { code: 'FST_LOLLY_UNKNOWN_TARGET', message: 'upstream "nope" does not exist (known: default)' })
  t.throws(() => api.addTarget(7 as never, ups[0].url), { code: 'FST_LOLLY_INVALID_OPTION', message: 'upstream must be an upstream name, got 7' })
  t.throws(() => api.addTarget('', ups[0].url), { code: 'FST_LOLLY_INVALID_OPTION' })
  t.equal(api.targets.length, 1, 'nothing was added')
})

test('management calls name the upstream and target they could not find, and check their arguments', async (t) => {
  const ups = await startUpstreams(1)
  const rig = await withRig(t, { upstreams: { api: { targets: [ups[0].url] } } }, ups)
  const api = rig.app.lolly
  t.throws(() => api.disable('api', 'http://127.0.0.1:9'), { code: 'FST_LOLLY_UNKNOWN_TARGET', message: 'upstream "api" has no target http://127.0.0.1:9' })
  t.throws(() => api.enable('default', ups[0].url), { code: 'FST_LOLLY_UNKNOWN_TARGET', message: 'upstream "default" does not exist (known: api)' })
  t.throws(() => api.enable('api', 42 as never), { code: 'FST_LOLLY_INVALID_OPTION', message: 'url must be a URL string, got 42' })
  await t.rejects(api.drain('api', 'http://127.0.0.1:9'), { code: 'FST_LOLLY_UNKNOWN_TARGET' })
  await t.rejects(api.removeTarget('api', 'nonsense'), { code: 'FST_LOLLY_INVALID_OPTION', message: /^url must be an absolute http: or https: URL/ })
  for (const weight of [0, 1.5, '2', 1_000_001]) {
    t.throws(() => api.setWeight('api', ups[0].url, weight as never), { code: 'FST_LOLLY_INVALID_OPTION', message: /^weight must be an integer from 1 to 1000000/ })
  }
  t.equal(api.upstreams.api.targets[0].weight, 1)
})

test('disable and enable, with a reason on every transition', async (t) => {
  const ups = await startUpstreams(2)
  const rig = await withRig(t, { targets: ups.map((u) => u.url) }, ups)
  rig.app.lolly.disable('default', ups[1].url)
  t.same(tally(await rig.hit(4)), { u0: 4 })
  rig.app.lolly.disable('default', ups[1].url)
  rig.app.lolly.enable('default', ups[1].url)
  rig.app.lolly.enable('default', ups[1].url)
  t.same(tally(await rig.hit(4)), { u0: 2, u1: 2 })
  t.same(rig.changes.map((c) => [c.from, c.to, c.reason]), [
    ['healthy', 'disabled', 'disabled at runtime'],
    ['disabled', 'healthy', 'enabled at runtime']
  ], 'repeated calls change nothing')

  const pool = poolOf(rig.app)
  pool.health.transition(pool.target(ups[1].url)!, 'unhealthy', 'active: probe failed')
  rig.app.lolly.enable('default', ups[1].url)
  t.equal(rig.target(ups[1].url)!.state, 'unhealthy', 'enable does not overrule health')
})

test('setWeight changes the traffic split', async (t) => {
  const ups = await startUpstreams(2)
  const rig = await withRig(t, { targets: ups.map((u) => u.url) }, ups)
  rig.app.lolly.setWeight('default', ups[0].url, 4)
  t.equal(rig.target(ups[0].url)!.weight, 4)
  t.same(tally(await rig.hit(50)), { u0: 40, u1: 10 })
})

test('drain: no new requests at once; resolves when the in-flight ones finished', async (t) => {
  const slow = await holdingUpstream('slow')
  const other = await startUpstream('other')
  const rig = await withRig(t, { targets: [slow.url, other.url] }, [slow, other])

  const inflight = [rig.app.inject('/a'), rig.app.inject('/b'), rig.app.inject('/c')]
  await slow.arrived(2)
  let drained = false
  const drain = rig.app.lolly.drain('default', slow.url).then(() => { drained = true })
  t.equal(rig.target(slow.url)!.state, 'draining')
  t.equal(rig.changes.at(-1)!.reason, 'drained at runtime')
  t.same(tally(await rig.hit(4)), { other: 4 }, 'new requests go elsewhere')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(drained, false, 'two requests still in flight')
  slow.release()
  await drain
  t.equal(rig.target(slow.url)!.inflight, 0)
  const answers = await Promise.all(inflight)
  t.same(answers.map((r) => r.statusCode), [200, 200, 200], 'the in-flight requests completed')
  t.equal(rig.target(slow.url)!.state, 'draining', 'it stays out until enabled')
  await rig.app.lolly.drain('default', slow.url)
  t.pass('draining an idle target resolves at once')
})

test('enabling a target while a drain waits calls the drain off', async (t) => {
  const slow = await holdingUpstream('slow')
  const other = await startUpstream('other')
  const rig = await withRig(t, { targets: [slow.url, other.url] }, [slow, other])
  const pending = rig.app.inject('/a')
  await slow.arrived(1)
  const drain = rig.app.lolly.drain('default', slow.url)
  const again = rig.app.lolly.drain('default', slow.url)
  rig.app.lolly.enable('default', slow.url)
  await t.rejects(drain, { code: 'FST_LOLLY_DRAIN_INTERRUPTED', statusCode: 409, message: `Drain of ${slow.url} (upstream "default") was called off: ${slow.url} became healthy (enabled at runtime)` })
  await t.rejects(again, { code: 'FST_LOLLY_DRAIN_INTERRUPTED' })
  slow.release()
  t.equal((await pending).statusCode, 200)
})

test('removeTarget: in-flight requests complete with 200, then the target is gone', async (t) => {
  const slow = await holdingUpstream('slow')
  const other = await startUpstream('other')
  const rig = await withRig(t, { targets: [slow.url, other.url] }, [slow, other])
  const membership: string[] = []
  rig.app.lolly.on('target', (change) => membership.push(change.change))

  const inflight = [rig.app.inject('/a'), rig.app.inject('/b'), rig.app.inject('/c')]
  await slow.arrived(2)
  let removed = false
  const removal = rig.app.lolly.removeTarget('default', slow.url).then(() => { removed = true })
  const second = rig.app.lolly.removeTarget('default', slow.url + '/')
  t.equal(rig.target(slow.url)!.state, 'draining', 'still listed while its requests finish')
  t.equal(rig.changes.at(-1)!.reason, 'removing at runtime')
  t.throws(() => rig.app.lolly.enable('default', slow.url), { code: 'FST_LOLLY_UNKNOWN_TARGET', message: `target ${slow.url} of upstream "default" is being removed` })
  t.same(tally(await rig.hit(3)), { other: 3 })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(removed, false)

  slow.release()
  const answers = await Promise.all(inflight)
  t.same(answers.map((r) => [r.statusCode, r.body.split(' ')[0]]), [[200, 'slow'], [200, 'other'], [200, 'slow']])
  await removal
  await second
  t.same(rig.app.lolly.targets.map((s) => s.url), [other.url])
  t.same(membership, ['removed'])
  t.same(tally(await rig.hit(3)), { other: 3 })
  await t.rejects(rig.app.lolly.removeTarget('default', slow.url), { code: 'FST_LOLLY_UNKNOWN_TARGET' })

  slow.holding = false
  rig.app.lolly.addTarget('default', slow.url)
  t.same(tally(await rig.hit(2)), { other: 1, slow: 1 }, 'the URL can be added back')
})

test('removeTarget of an idle target, and of the target in the middle of the list', async (t) => {
  const ups = await startUpstreams(3)
  const rig = await withRig(t, { targets: ups.map((u) => u.url) }, ups)
  await rig.app.lolly.removeTarget('default', ups[1].url)
  t.same(rig.app.lolly.targets.map((s) => s.url), [ups[0].url, ups[2].url])
  const pool = poolOf(rig.app)
  t.same(pool.targets.map((target) => target.index), [0, 1], 'positions follow the list')
  t.same(tally(await rig.hit(4)), { u0: 2, u2: 2 })
  const gone = pool.targets[0]
  pool.detachTarget(gone)
  pool.detachTarget(gone)
  t.same(rig.app.lolly.targets.map((s) => s.url), [ups[2].url], 'detaching twice removes nothing else')
  pool.detachTarget(pool.targets[0])
  t.same(rig.app.lolly.targets, [])
  await rig.app.lolly.removeTarget('default', ups[0].url).catch((err: Error) => t.match(err, { code: 'FST_LOLLY_UNKNOWN_TARGET' }))
})

test('a closed pool takes no new targets', async (t) => {
  const ups = await startUpstreams(1)
  const clock = installClock()
  const rig = await buildRig({ targets: [ups[0].url] })
  t.teardown(async () => { await ups[0].close(); clock.uninstall() })
  await rig.app.close()
  t.throws(() => rig.app.lolly.addTarget('default', 'http://127.0.0.1:5'), { code: 'FST_LOLLY_POOL_CLOSED' })
})

test('removing targets forgets their failure history (passive on and off)', async (t) => {
  const clock = installClock()
  const bad = await startUpstreams(3, (_req, res) => { res.statusCode = 503; res.end('x') })
  const good = await startUpstream('good')
  const rig = await buildRig({
    upstreams: {
      on: { targets: [...bad.map((u) => u.url), good.url], passive: { maxFails: 2, ejectTime: 1000 } },
      off: { targets: [bad[0].url, good.url], passive: false }
    }
  })
  t.teardown(async () => { await rig.app.close(); await Promise.all([...bad, good].map((u) => u.close())); clock.uninstall() })
  const state = (i: number): string => rig.target(bad[i].url, 'on')!.state
  const proxy = async (): Promise<void> => {
    const res = await rig.app.lolly.upstreams.on.dispatcher.request({ origin: 'http://x', path: '/', method: 'GET' })
    await res.body.dump()
  }

  while (state(0) !== 'ejected' || state(1) !== 'ejected') await proxy()
  t.ok(rig.target(bad[2].url, 'on')!.failures >= 1, 'bad[2] has failures on record')
  clock.tick(1000)
  t.equal(state(0), 'healthy', 'bad[0] is back, on probation')
  for (const i of [0, 1, 2]) await rig.app.lolly.removeTarget('on', bad[i].url)
  t.same(rig.app.lolly.upstreams.on.targets.map((s) => s.url), [good.url])
  const count = rig.changes.length
  clock.tick(60_000)
  t.equal(rig.changes.length, count, 'no timer of a removed target fires')

  await rig.app.lolly.removeTarget('off', bad[0].url)
  t.same(rig.app.lolly.upstreams.off.targets.map((s) => s.url), [good.url])
})
