import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'
import { balancerFor, context, countPicks, makeTargets, setInflight, writable } from './helpers/tier-targets.js'
import { startUpstream } from './helpers/upstreams.js'

test('least-latency: the balancer contract', (t) => checkBalancerContract(t, 'least-latency'))

test('least-latency: equal latencies and no load: picks follow the weights (200 000 picks, each share within 0.01)', async (t) => {
  const targets = makeTargets(t, [{ weight: 1 }, { weight: 3 }, { weight: 6 }])
  for (const target of targets) writable(target).latencyMs = 12
  const counts = countPicks(balancerFor('least-latency', targets), 200_000)
  for (const [i, target] of targets.entries()) {
    const share = (counts.get(target) ?? 0) / 200_000
    const want = [0.1, 0.3, 0.6][i]
    t.ok(Math.abs(share - want) < 0.01, `${target.url}: share ${share.toFixed(4)}, want ${want}`)
  }
})

test('least-latency: scores latency × (in-flight + 1); the slowest target never wins', async (t) => {
  const [fast, medium, slow] = makeTargets(t, 3)
  writable(fast).latencyMs = 10
  writable(medium).latencyMs = 20
  writable(slow).latencyMs = 100
  const balancer = balancerFor('least-latency', [fast, medium, slow])
  const counts = countPicks(balancer, 30_000)
  t.equal(counts.get(slow), undefined, 'the slowest is always the worse of its pair')
  // fast is in 2/3 of the (distinct, equally weighted) pairs and wins every one of them.
  const share = (counts.get(fast) ?? 0) / 30_000
  t.ok(Math.abs(share - 2 / 3) < 0.02, `fast share ${share.toFixed(3)}, want 0.667`)

  const pair = balancerFor('least-latency', [fast, medium])
  setInflight(pair, fast, 2)
  t.same([...countPicks(pair, 1000).keys()], [medium], '10 × 3 > 20 × 1: medium wins now')
  setInflight(pair, fast, 1)
  t.same([...countPicks(pair, 1000).keys()].map((x) => x.latencyMs).sort(), [10, 20], '10 × 2 = 20 × 1: ties go to the first draw')
})

test('least-latency: a target without a sample is tried while it has no more in flight than its rival', async (t) => {
  const [known, fresh] = makeTargets(t, 2)
  writable(known).latencyMs = 5
  const balancer = balancerFor('least-latency', [known, fresh])
  t.same([...countPicks(balancer, 200).keys()], [fresh], 'both idle: the unsampled one wins the tie')
  setInflight(balancer, fresh, 1)
  t.same([...countPicks(balancer, 200).keys()], [known], 'one request out and no answer yet: not flooded')
  setInflight(balancer, known, 1)
  t.same([...countPicks(balancer, 200).keys()], [fresh], 'even again: the unsampled one')

  const [a, b] = makeTargets(t, 2)
  const unsampled = balancerFor('least-latency', [a, b])
  setInflight(unsampled, a, 3)
  t.same([...countPicks(unsampled, 200).keys()], [b], 'two unsampled: fewer in flight wins')
  const one = makeTargets(t, 1)
  t.equal(balancerFor('least-latency', one).pick(context(), 0), one[0], 'a tier of one: that one')
})

test('least-latency: through the plugin, traffic moves to the faster target once both are measured', async (t) => {
  const slow = await startUpstream('slow', (_req, res) => { setTimeout(() => res.end('slow'), 40) })
  const fast = await startUpstream('fast', (_req, res) => { res.end('fast') })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await slow.close(); await fast.close() })
  await app.register(lolly, { balancer: 'least-latency', targets: [slow.url, fast.url] })
  app.get('/*', (_req, reply) => reply.from())
  const answers: string[] = []
  for (let i = 0; i < 30; i++) answers.push((await app.inject('/x')).body)
  const slowCount = answers.filter((a) => a === 'slow').length
  // The slow one is tried at most while it is unmeasured (its first answer fixes its EWMA at ~40 ms).
  t.ok(slowCount >= 1 && slowCount <= 2, `slow answered ${slowCount} of 30 (once, to be measured)`)
  t.same(answers.slice(-20), Array(20).fill('fast'), 'after that, always the fast one')
})
