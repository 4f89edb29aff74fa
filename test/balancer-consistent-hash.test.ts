import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import type { Balancer } from '../lib/balancers/balancer.js'
import { ConsistentHashBalancer } from '../lib/balancers/consistent-hash.js'
import { hashString } from '../lib/balancers/string-hash.js'
import type { Target } from '../lib/pool/target.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'
import { balancerFor, context, makeTargets, setInflight, writable } from './helpers/tier-targets.js'
import { startUpstream, startUpstreams, type UpstreamHandler } from './helpers/upstreams.js'

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)

function owners (balancer: Balancer): Target[] {
  const ctx = context()
  return KEYS.map((key) => {
    ctx.key = key
    return balancer.pick(ctx, 0)!
  })
}

test('consistent-hash: the balancer contract', (t) => checkBalancerContract(t, 'consistent-hash'))

test('consistent-hash: ip-hash is the same balancer, and also meets the contract', (t) => checkBalancerContract(t, 'ip-hash'))

test('consistent-hash: a key always maps to the same target, whatever the order of the tier', async (t) => {
  const targets = makeTargets(t, 5)
  const first = owners(balancerFor('consistent-hash', targets, 0))
  t.same(owners(balancerFor('consistent-hash', targets, 0)), first, 'the same on a fresh ring')
  t.same(owners(balancerFor('consistent-hash', [...targets].reverse(), 0)).map((x) => x.url), first.map((x) => x.url),
    'points depend on the URL, not the position')
})

test('consistent-hash: keys spread by weight (10 000 keys, each share within 0.05)', async (t) => {
  const targets = makeTargets(t, [{ weight: 1 }, { weight: 1 }, { weight: 2 }])
  const counts = new Map<Target, number>()
  for (const target of owners(balancerFor('consistent-hash', targets, 0))) counts.set(target, (counts.get(target) ?? 0) + 1)
  for (const [i, target] of targets.entries()) {
    const share = (counts.get(target) ?? 0) / KEYS.length
    const want = [0.25, 0.25, 0.5][i]
    t.ok(Math.abs(share - want) < 0.05, `weight ${target.weight}: share ${share.toFixed(3)}, want ${want}`)
  }
})

test('consistent-hash: when one of n targets leaves, only its keys move (at most 1.5/n of 10 000), and they come back', async (t) => {
  for (const n of [3, 10, 50]) {
    const targets = makeTargets(t, n)
    const balancer = balancerFor('consistent-hash', targets, 0)
    const before = owners(balancer)
    const leaving = targets[Math.floor(n / 2)]
    balancer.rebuild(targets.filter((x) => x !== leaving))
    const after = owners(balancer)
    let moved = 0
    let movedFromOthers = 0
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] !== after[i]) {
        moved++
        if (before[i] !== leaving) movedFromOthers++
      }
    }
    t.equal(movedFromOthers, 0, `n=${n}: no key of a staying target moved`)
    t.ok(moved / KEYS.length <= 1.5 / n, `n=${n}: ${moved} keys moved (${(moved / KEYS.length).toFixed(4)} <= ${(1.5 / n).toFixed(4)})`)
    t.ok(after.every((x) => x !== leaving), `n=${n}: none left on the leaving target`)
    balancer.rebuild(targets)
    t.same(owners(balancer), before, `n=${n}: it comes back to exactly its old keys`)
  }
})

/** Ring points per unit of configured weight (the ring is the balancer's own: read past its privacy). */
function pointsPerWeight (balancer: ConsistentHashBalancer, targets: readonly Target[]): number {
  const points = (balancer as unknown as { ring: { hashes: Uint32Array } }).ring.hashes.length
  return points / targets.reduce((sum, target) => sum + target.weight, 0)
}

test('consistent-hash: 10 000 targets keep the ring under 2^18 points (20 per weight unit) and one leaving moves only its keys', async (t) => {
  const targets = makeTargets(t, 10_000)
  const balancer = new ConsistentHashBalancer(0)
  let started = process.hrtime.bigint()
  balancer.rebuild(targets)
  const rebuildMs = Number(process.hrtime.bigint() - started) / 1e6
  t.equal(pointsPerWeight(balancer, targets), 20)
  t.comment(`ring rebuild at 10 000 targets: ${rebuildMs.toFixed(1)} ms`)
  const before = owners(balancer)
  const leaving = targets[1234]
  started = process.hrtime.bigint()
  balancer.rebuild(targets.filter((x) => x !== leaving))
  t.comment(`rebuild without one target: ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms`)
  const after = owners(balancer)
  const moved = before.filter((x, i) => x !== after[i])
  t.ok(moved.every((x) => x === leaving), `${moved.length} keys moved, all from the leaving target`)
  const small = makeTargets(t, 3)
  const smallBalancer = new ConsistentHashBalancer(0)
  smallBalancer.rebuild(small)
  t.equal(pointsPerWeight(smallBalancer, small), 160, 'small tiers: ketama\'s 160 points per weight unit')
})

test('consistent-hash: attempts walk the distinct successors of the key, the same order every time', async (t) => {
  const targets = makeTargets(t, 6)
  const balancer = balancerFor('consistent-hash', targets, 0)
  const ctx = context('some-key')
  const order = [0, 1, 2, 3, 4, 5].map((attempt) => balancer.pick(ctx, attempt))
  t.equal(new Set(order).size, 6)
  t.same([0, 1, 2, 3, 4, 5].map((attempt) => balancer.pick(ctx, attempt)), order, 'stable per key')
  t.equal(balancer.pick(ctx, 3), order[3], 'an attempt out of sequence replays the walk')
  t.equal(balancer.pick(context('another-key'), 2), balancerFor('consistent-hash', targets, 0).pick(context('another-key'), 2))
  t.equal(balancer.pick(ctx, 6), order[0], 'attempt size wraps to the start')
})

test('consistent-hash: lopsided weights still offer every target within size attempts', async (t) => {
  for (const weights of [[1, 300, 1, 1], [1, 1, 300]]) {
    const targets = makeTargets(t, weights.map((weight) => ({ weight })))
    const balancer = balancerFor('consistent-hash', targets, 0)
    let complete = 0
    for (let k = 0; k < 300; k++) {
      const ctx = context(`k${k}`)
      const seen = new Set(weights.map((_, attempt) => balancer.pick(ctx, attempt)))
      if (seen.size === weights.length) complete++
    }
    t.equal(complete, 300, `weights ${weights}: every walk offered all ${weights.length}`)
  }
})

test('consistent-hash: bounded load passes a hot key\'s owner over for its ring successor, and returns', async (t) => {
  const targets = makeTargets(t, 4)
  const bounded = balancerFor('consistent-hash', targets, 1.25)
  const pure = balancerFor('consistent-hash', targets, 0)
  const ctx = context('hot')
  const owner = pure.pick(ctx, 0)!
  const successor = pure.pick(ctx, 1)!
  t.equal(bounded.pick(ctx, 0), owner)
  // 3 in flight, all on the owner: bound = ceil(1.25 * (3 + 1) / 4) = 2, and the owner holds 3.
  setInflight(bounded, owner, 3)
  setInflight(pure, owner, 3)
  t.equal(bounded.pick(ctx, 0), successor, 'spilled to the next distinct target on the ring')
  t.equal(pure.pick(ctx, 0), owner, 'factor 0: affinity only')
  t.not(bounded.pick(ctx, 1), successor, 'attempt 1 goes on from the spill, not back to it')
  // 1 in flight: bound = ceil(1.25 * 2 / 4) = 1, and the owner already holds 1: still over. Bounds
  // are whole requests, so with few in flight a target takes one more only once the others have one.
  setInflight(bounded, owner, 1)
  t.equal(bounded.pick(ctx, 0), successor, 'one in flight, tier otherwise idle: still spills')
  for (const target of targets) setInflight(bounded, target, 1)
  t.equal(bounded.pick(ctx, 0), owner, 'one each: bound = ceil(1.25 * 5 / 4) = 2, the owner is under it again')
  for (const target of targets) setInflight(bounded, target, 0)
  t.equal(bounded.pick(ctx, 0), owner, 'load gone: back to its owner')
  // Counted, 50 more in flight would raise the bound to ceil(1.25 * 54 / 4) = 17 and keep the key home.
  setInflight(bounded, owner, 3)
  setInflight(bounded, makeTargets(t, 1)[0], 50)
  t.equal(bounded.pick(ctx, 0), successor, 'load of a target outside the tier does not count')
})

test('consistent-hash: load the balancer was not told about cannot make the walk unbounded', async (t) => {
  const targets = makeTargets(t, 3)
  const balancer = balancerFor('consistent-hash', targets, 1.25)
  // Counts changed behind the balancer's back: every target looks over its bound of 1.
  writable(targets[0]).inflight = 100
  writable(targets[1]).inflight = 40
  writable(targets[2]).inflight = 100
  t.equal(balancer.pick(context('x'), 0), targets[1], 'settles for the least loaded it saw')
})

test('consistent-hash: targets without effective weight keep one point each and share the bound evenly', async (t) => {
  const targets = makeTargets(t, 3)
  for (const target of targets) writable(target).effectiveWeight = 0
  const balancer = balancerFor('consistent-hash', targets, 2)
  const ctx = context('k')
  const owner = balancer.pick(ctx, 0)!
  t.equal(new Set([0, 1, 2].map((attempt) => balancer.pick(ctx, attempt))).size, 3, 'every target still on the ring')
  // bound = ceil(2 / 3 * (2 + 1)) = 2: the owner at 2 is full, the next one takes it.
  setInflight(balancer, owner, 2)
  t.not(balancer.pick(ctx, 0), owner)
  setInflight(balancer, owner, 1)
  t.equal(balancer.pick(ctx, 0), owner, 'owner at 1 of ceil(2 / 3 * 2) = 2: stays')
  writable(targets[1]).effectiveWeight = 2
  const mixed = balancerFor('consistent-hash', targets, 2)
  t.equal(mixed.size, 3, 'one weighted among weightless ones')
})

test('consistent-hash: the ring is rebuilt when a configured weight changes, and only then', async (t) => {
  const targets = makeTargets(t, 2)
  const balancer = balancerFor('consistent-hash', targets, 0)
  const ring = (): Uint32Array => (balancer as unknown as { ring: { hashes: Uint32Array } }).ring.hashes
  const before = ring()
  writable(targets[1]).effectiveWeight = 0.5
  balancer.rebuild(targets)
  t.equal(ring(), before, 'an effective weight (slow start) keeps the ring as it is')
  writable(targets[1]).weight = 3
  balancer.rebuild(targets)
  t.equal(ring().length, 4 * 160, 'a configured weight builds it anew')
})

test('consistent-hash: the walk counter wraps without forgetting which targets it offered', async (t) => {
  const targets = makeTargets(t, 3)
  const balancer = balancerFor('consistent-hash', targets, 0)
  // Reaching 2^32 - 1 walks takes hours of traffic; jump there instead of waiting.
  ;(balancer as unknown as { walk: number }).walk = 0xfffffffe
  const ctx = context('k')
  t.equal(new Set([0, 1, 2].map((attempt) => balancer.pick(ctx, attempt))).size, 3)
  t.equal(new Set([0, 1, 2].map((attempt) => balancer.pick(ctx, attempt))).size, 3)
})

test('consistent-hash: the string hash spreads keys evenly (100 000 keys in 16 buckets, each within 5%)', async (t) => {
  const buckets = new Array(16).fill(0)
  for (let i = 0; i < 100_000; i++) buckets[hashString(`10.0.${i >> 8}.${i & 255}`) >>> 28]++
  t.ok(buckets.every((count) => Math.abs(count - 6250) < 312), `bucket counts ${buckets}`)
  t.not(hashString('ab'), hashString('ba'))
  t.not(hashString('a', 1), hashString('a', 2), 'the seed matters')
  t.equal(hashString('é🙂'), hashString('é🙂'))
})

const holding = (held: Array<() => void>, name: string): UpstreamHandler => (_req, res) => {
  held.push(() => res.end(name))
}

test('consistent-hash: through the plugin, a hot key spills under bounded load and stays put without it', async (t) => {
  const held: Array<() => void> = []
  const ups = await Promise.all([0, 1, 2, 3].map((i) => startUpstream(`u${i}`, holding(held, `u${i}`))))
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { balancer: 'consistent-hash', hashKey: 'header:x-user', targets: ups.map((u) => u.url) })
  app.get('/bounded', (_req, reply) => reply.from())
  app.get('/pinned', { config: { upstream: { name: 'default', hashBalanceFactor: 0 } } }, (_req, reply) => reply.from())
  const send = (url: string) => app.inject({ url, headers: { 'x-user': 'alice' } })
  const waitHeld = async (count: number) => { while (held.length < count) await new Promise((resolve) => setTimeout(resolve, 5)) }
  const hitsOf = () => ups.map((u) => u.hits.length)

  const pinned = [send('/pinned'), send('/pinned'), send('/pinned')]
  await waitHeld(3)
  t.same(hitsOf().filter((n) => n > 0), [3], 'factor 0: all three concurrent requests on the key\'s owner')
  const owner = hitsOf().indexOf(3)
  held.splice(0).forEach((release) => release())
  t.same((await Promise.all(pinned)).map((res) => res.body), [`u${owner}`, `u${owner}`, `u${owner}`])

  const bounded = [send('/bounded'), send('/bounded')]
  await waitHeld(2)
  const spread = hitsOf()
  t.equal(spread[owner], 4, 'the owner took the first one')
  t.equal(spread.reduce((a, b) => a + b) - 3, 2, 'and another target the second: ceil(1.25 * 2 / 4) = 1 each')
  held.splice(0).forEach((release) => release())
  await Promise.all(bounded)
  const again = send('/bounded')
  await waitHeld(1)
  held.splice(0).forEach((release) => release())
  t.equal((await again).body, `u${owner}`, 'load gone: the key is back on its owner')
})

test('consistent-hash: a route can ask for ip-hash over the default pool', async (t) => {
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: ups.map((u) => u.url) })
  app.get('/spread', (_req, reply) => reply.from())
  app.get('/sticky', { config: { upstream: { name: 'default', balancer: 'ip-hash' } } }, (_req, reply) => reply.from())
  const served = async (url: string, ip: string) => (await app.inject({ url, remoteAddress: ip })).body.split(' ')[0]
  const sticky = new Set<string>()
  const spread = new Set<string>()
  for (let i = 0; i < 9; i++) {
    sticky.add(await served('/sticky', '203.0.113.7'))
    spread.add(await served('/spread', '203.0.113.7'))
  }
  t.equal(sticky.size, 1, 'one client IP: one target on the ip-hash route')
  t.equal(spread.size, 3, 'the same client round-robins over all three on the default route')
  const byIp = new Set<string>()
  for (let i = 0; i < 30; i++) byIp.add(await served('/sticky', `198.51.100.${i}`))
  t.equal(byIp.size, 3, '30 client IPs spread over all three targets')
})
