import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstreams } from './helpers/upstreams.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'
import { balancerFor, context, makeTargets } from './helpers/tier-targets.js'
import type { Target } from '../lib/pool/target.js'

test('round-robin interleaves weights 5:1:1 smoothly and splits traffic by weight', async (t) => {
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: [{ url: ups[0].url, weight: 5 }, ups[1].url, ups[2].url] })
  app.get('/*', (_req, reply) => reply.from())
  const seen: string[] = []
  for (let i = 0; i < 70; i++) {
    const res = await app.inject('/x')
    t.equal(res.statusCode, 200)
    seen.push(res.body.split(' ')[0])
  }
  const counts = Object.fromEntries(['u0', 'u1', 'u2'].map((n) => [n, seen.filter((s) => s === n).length]))
  t.same(counts, { u0: 50, u1: 10, u2: 10 }, 'exact 5:1:1 over whole cycles')
  let run = 0
  let longest = 0
  for (const s of seen) { run = s === 'u0' ? run + 1 : 0; longest = Math.max(longest, run) }
  t.ok(longest < 5, `never 5 in a row for the heavy target (longest run ${longest})`)
})

test('round-robin: the balancer contract', (t) => checkBalancerContract(t, 'round-robin'))

test('round-robin: every weight mix gets exactly its share over whole cycles, ties included', async (t) => {
  // Weights with common multiples make deadlines coincide: the order of ties must stay deterministic.
  for (const weights of [[1, 1], [1, 3], [2, 2, 4], [3, 1, 2, 6], [1, 1, 1, 1, 1, 1, 1], [6, 3, 2, 1, 1]]) {
    const targets = makeTargets(t, weights.map((weight) => ({ weight })))
    const balancer = balancerFor('round-robin', targets)
    const total = weights.reduce((a, b) => a + b, 0)
    const counts = new Map<Target, number>()
    for (let i = 0; i < total * 20; i++) {
      const target = balancer.pick(context(), 0)!
      counts.set(target, (counts.get(target) ?? 0) + 1)
    }
    t.same(targets.map((target) => counts.get(target)), weights.map((w) => w * 20), `weights ${weights.join(':')}`)
  }
})
