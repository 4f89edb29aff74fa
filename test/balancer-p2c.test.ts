import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'
import { balancerFor, context, countPicks, makeTargets, setInflight } from './helpers/tier-targets.js'
import { startUpstream, type Upstream } from './helpers/upstreams.js'

test('p2c: the balancer contract', (t) => checkBalancerContract(t, 'p2c'))

test('p2c: with nothing in flight, picks follow the weights (200 000 picks, each share within 0.01)', async (t) => {
  const targets = makeTargets(t, [{ weight: 1 }, { weight: 3 }, { weight: 6 }])
  const counts = countPicks(balancerFor('p2c', targets), 200_000)
  for (const [i, target] of targets.entries()) {
    const share = (counts.get(target) ?? 0) / 200_000
    const want = [0.1, 0.3, 0.6][i]
    t.ok(Math.abs(share - want) < 0.01, `${target.url}: share ${share.toFixed(4)}, want ${want}`)
  }
})

test('p2c: the two candidates are distinct, so the single busiest target is never chosen', async (t) => {
  for (const n of [2, 3, 10]) {
    const targets = makeTargets(t, n)
    const balancer = balancerFor('p2c', targets)
    setInflight(balancer, targets[0], 5)
    const counts = countPicks(balancer, 5_000)
    t.equal(counts.get(targets[0]), undefined, `${n} targets: the busy one was never picked`)
  }
  const one = makeTargets(t, 1)
  t.equal(balancerFor('p2c', one).pick(context(), 0), one[0], 'a tier of one: that one')
})

test('p2c: compares in-flight relative to weight', async (t) => {
  const [light, heavy] = makeTargets(t, [{ weight: 1 }, { weight: 4 }])
  const balancer = balancerFor('p2c', [light, heavy])
  setInflight(balancer, light, 1)
  setInflight(balancer, heavy, 3)
  t.same([...countPicks(balancer, 200).keys()], [heavy], '3 / 4 < 1 / 1: the heavy one')
  setInflight(balancer, heavy, 5)
  t.same([...countPicks(balancer, 200).keys()], [light], '5 / 4 > 1 / 1: the light one')
})

test('p2c: through the plugin, a target stuck with slow requests stops getting new ones', async (t) => {
  const held: Array<() => void> = []
  const slow = await startUpstream('slow', (_req, res) => { held.push(() => res.end('slow')) })
  const fast = await startUpstream('fast', (_req, res) => { res.end('fast') })
  const ups: Upstream[] = [slow, fast]
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { balancer: 'p2c', targets: [slow.url, fast.url] })
  app.get('/*', (_req, reply) => reply.from())
  // Idle targets tie and a tie goes to a weighted coin, so send until one request is stuck on `slow`.
  const stuck: Array<Promise<unknown>> = []
  while (slow.hits.length === 0) {
    stuck.push(app.inject('/x'))
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const answers: string[] = []
  for (let i = 0; i < 20; i++) answers.push((await app.inject('/y')).body)
  t.same([...new Set(answers)], ['fast'], 'every later request went to the idle target')
  held.forEach((release) => release())
  await Promise.all(stuck)
})
