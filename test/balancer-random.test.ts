import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { AliasTable } from '../lib/balancers/alias-table.js'
import { WeightedFailover } from '../lib/balancers/weighted-failover.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'
import { balancerFor, balancerSet, context, countPicks, makeTargets, request, writable } from './helpers/tier-targets.js'
import { startUpstreams } from './helpers/upstreams.js'

test('random: the balancer contract', (t) => checkBalancerContract(t, 'random'))

test('random: picks follow the effective weights (200 000 picks, each share within 0.01)', async (t) => {
  const targets = makeTargets(t, [{ weight: 1 }, { weight: 2 }, { weight: 3 }, { weight: 4 }])
  const counts = countPicks(balancerFor('random', targets), 200_000)
  // Standard deviation of a share at p = 0.4 over 200 000 draws is 0.0011: 0.01 is 9 of them.
  for (const [i, target] of targets.entries()) {
    const share = (counts.get(target) ?? 0) / 200_000
    t.ok(Math.abs(share - (i + 1) / 10) < 0.01, `${target.url}: share ${share.toFixed(4)}, want ${(i + 1) / 10}`)
  }

  // Slow start lowers effectiveWeight; the pool rebuilds the balancer with it.
  writable(targets[3]).effectiveWeight = 1
  const ramped = countPicks(balancerFor('random', targets), 100_000)
  const share = (ramped.get(targets[3]) ?? 0) / 100_000
  t.ok(Math.abs(share - 1 / 7) < 0.01, `weight 4 ramped down to 1: share ${share.toFixed(4)}, want 0.1429`)
})

test('random: a full target\'s overflow spreads by weight, not onto its neighbour in the list', async (t) => {
  const targets = makeTargets(t, [{ weight: 3, maxConnections: 1 }, { weight: 1 }, { weight: 1 }, { weight: 2 }])
  const set = balancerSet('random', targets)
  writable(targets[0]).inflight = 1
  set.onLoadChange(targets[0])
  const counts = [0, 0, 0, 0]
  for (let i = 0; i < 40_000; i++) counts[targets.indexOf(set.pick(set.keyOf(undefined, request()), undefined)!)]++
  // 1:1:2 among the three that can take requests; sd of a share over 40 000 is at most 0.0025.
  const shares = counts.map((count) => count / 40_000)
  t.equal(counts[0], 0, 'the full target gets nothing')
  t.ok(Math.abs(shares[1] - 0.25) < 0.02 && Math.abs(shares[2] - 0.25) < 0.02 && Math.abs(shares[3] - 0.5) < 0.02,
    `shares ${shares.map((x) => x.toFixed(3))}, want 0 0.25 0.25 0.5`)
})

test('random: failover draws never repeat a target within one pick, even across the walk counter wrapping', async (t) => {
  const targets = makeTargets(t, 5)
  const balancer = balancerFor('random', targets)
  const failover = (balancer as unknown as { failover: WeightedFailover }).failover
  // Reaching 2^32 - 1 picks takes days of traffic; jump there instead of waiting.
  ;(failover as unknown as { walk: number }).walk = 0xfffffffe
  for (let round = 0; round < 3; round++) {
    const ctx = context()
    t.equal(new Set([0, 1, 2, 3, 4].map((attempt) => balancer.pick(ctx, attempt))).size, 5, `round ${round}: all five`)
  }
  t.equal(balancerFor('random', targets.slice(0, 1)).pick(context(), 1), targets[0], 'a tier of one: that one again')
})

test('random: the alias table draws by weight, treats non-positive weights as 0, and all-zero as uniform', async (t) => {
  const table = new AliasTable()
  const targets = makeTargets(t, [{ weight: 5 }, { weight: 1 }, { weight: 1 }])
  writable(targets[1]).effectiveWeight = 0
  writable(targets[2]).effectiveWeight = Number.NaN
  table.rebuild(targets)
  t.equal(table.size, 3)
  for (let i = 0; i < 1000; i++) {
    if (table.draw() !== 0) {
      t.fail('a weightless target was drawn')
      break
    }
  }
  t.not(table.drawOther(0), 0, 'drawOther still finds another position when the rest weigh nothing')

  writable(targets[0]).effectiveWeight = 0
  table.rebuild(targets)
  const seen = new Set<number>()
  for (let i = 0; i < 300; i++) seen.add(table.draw())
  t.same([...seen].sort(), [0, 1, 2], 'no weight anywhere: uniform')

  const pair = new AliasTable()
  pair.rebuild(makeTargets(t, 2))
  t.equal(pair.drawOther(0), 1)
  t.equal(pair.drawOther(1), 0)
})

test('random: through the plugin, traffic follows 3:1 weights (400 requests, share within 0.1)', async (t) => {
  const ups = await startUpstreams(2)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { balancer: 'random', targets: [{ url: ups[0].url, weight: 3 }, ups[1].url] })
  app.get('/*', (_req, reply) => reply.from())
  let heavy = 0
  for (let i = 0; i < 400; i++) {
    const res = await app.inject('/x')
    if (res.body.startsWith('u0 ')) heavy++
  }
  // sd of the share at p = 0.75 over 400 requests is 0.022: 0.1 is 4.6 of them.
  t.ok(Math.abs(heavy / 400 - 0.75) < 0.1, `u0 share ${heavy / 400}, want 0.75`)
})
