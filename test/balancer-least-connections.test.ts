import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import type { Target } from '../lib/pool/target.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'
import { balancerFor, context, makeTargets, setInflight, writable } from './helpers/tier-targets.js'
import { startUpstream } from './helpers/upstreams.js'

test('least-connections: the balancer contract', (t) => checkBalancerContract(t, 'least-connections'))

test('least-connections: sequential requests (ties) follow the weights exactly and take turns', async (t) => {
  const targets = makeTargets(t, [{ weight: 2 }, {}, {}])
  const balancer = balancerFor('least-connections', targets)
  const order: number[] = []
  for (let i = 0; i < 400; i++) {
    const target = balancer.pick(context(), 0)!
    setInflight(balancer, target, 1)
    setInflight(balancer, target, 0)
    order.push(target.index)
  }
  const count = (index: number): number => order.filter((i) => i === index).length
  t.same([count(0), count(1), count(2)], [200, 100, 100], '2:1:1 exactly over whole cycles')
  t.not(order.slice(0, 4).join(), '0,0,0,0', 'ties rotate instead of going to the first target')
  let run = 0
  let longest = 0
  for (const i of order) { run = i === 0 ? run + 1 : 0; longest = Math.max(longest, run) }
  t.ok(longest <= 2, `the weight-2 target never runs more than twice (longest ${longest})`)
})

test('least-connections: a rebuild keeps the rotation of ties going instead of restarting it', async (t) => {
  const targets = makeTargets(t, 3)
  const balancer = balancerFor('least-connections', targets)
  const sequence: number[] = []
  for (let i = 0; i < 9; i++) {
    const target = balancer.pick(context(), 0)!
    sequence.push(target.index)
    // A state change or slow-start step elsewhere in the pool rebuilds the balancer every time.
    balancer.rebuild(targets)
  }
  t.same(sequence, [0, 1, 2, 0, 1, 2, 0, 1, 2], 'each takes its turn across rebuilds')
  const joined = makeTargets(t, 4)[3]
  balancer.rebuild([...targets, joined])
  t.equal(balancer.pick(context(), 0), targets[0], 'a newcomer queues behind the current round')
})

test('least-connections: a target at maxConnections drops out of the running until it has room', async (t) => {
  const targets = makeTargets(t, [{ weight: 10, maxConnections: 2 }, {}, {}])
  const balancer = balancerFor('least-connections', targets)
  setInflight(balancer, targets[0], 2)
  const overflow = [0, 0, 0]
  for (let i = 0; i < 10; i++) {
    const target = balancer.pick(context(), 0)!
    setInflight(balancer, target, target.inflight + 1)
    overflow[target.index]++
  }
  t.same(overflow, [0, 5, 5], 'the full one is never offered first; its overflow is shared, not sent to its neighbour')
  setInflight(balancer, targets[0], 1)
  t.equal(balancer.pick(context(), 0), targets[0], 'room again: 1 / 10 beats 5 / 1')
})

test('least-connections: under load, in-flight requests settle in proportion to weight', async (t) => {
  const targets = makeTargets(t, [{ weight: 3 }, {}])
  const balancer = balancerFor('least-connections', targets)
  // 40 requests in flight at once: nothing ends, so every pick sees the load of the previous ones.
  for (let i = 0; i < 40; i++) {
    const target = balancer.pick(context(), 0)!
    setInflight(balancer, target, target.inflight + 1)
  }
  t.same(targets.map((target) => target.inflight), [30, 10], '3:1 weights hold 30 and 10 in flight')
})

test('least-connections: a target without effective weight only gets requests the others are too busy for', async (t) => {
  const targets = makeTargets(t, 3)
  writable(targets[2]).effectiveWeight = 0
  const balancer = balancerFor('least-connections', targets)
  const picked = new Set<Target>()
  for (let i = 0; i < 1000; i++) {
    const target = balancer.pick(context(), 0)!
    setInflight(balancer, target, 1)
    setInflight(balancer, target, 0)
    picked.add(target)
  }
  t.notOk(picked.has(targets[2]), 'never on ties')
  setInflight(balancer, targets[0], 1)
  setInflight(balancer, targets[1], 1)
  t.equal(balancer.pick(context(), 0), targets[2], 'idle while the others are not: it')
  setInflight(balancer, targets[2], 1)
  t.not(balancer.pick(context(), 0), targets[2], 'one in flight counts as a million')
})

test('least-connections: the heap always yields a least-loaded target (random loads against a full scan)', async (t) => {
  const targets = makeTargets(t, Array.from({ length: 50 }, (_, i) => ({ weight: 1 + (i % 5) })))
  const balancer = balancerFor('least-connections', targets)
  for (let step = 0; step < 5000; step++) {
    const target = targets[Math.floor(Math.random() * targets.length)]
    setInflight(balancer, target, Math.max(0, target.inflight + (Math.random() < 0.55 ? 1 : -1)))
    const picked = balancer.pick(context(), 0)!
    const best = Math.min(...targets.map((x) => x.inflight / x.weight))
    if (picked.inflight / picked.weight !== best) {
      t.equal(picked.inflight / picked.weight, best, `step ${step}: picked a least-loaded target`)
      return
    }
  }
  t.ok(true, '5000 steps agreed with the full scan')
})

test('least-connections: load changes of targets outside the tier are ignored; a rebuild keeps current loads', async (t) => {
  const [a, b, outsider] = makeTargets(t, 3)
  const balancer = balancerFor('least-connections', [a, b])
  setInflight(balancer, outsider, 7)
  setInflight(balancer, a, 0)
  setInflight(balancer, a, 2)
  t.equal(balancer.pick(context(), 0), b)
  balancer.rebuild([a, b, outsider])
  const picked: Target[] = []
  for (let i = 0; i < 4; i++) picked.push(balancer.pick(context(), 0)!)
  t.notOk(picked.includes(outsider) || picked.includes(a), 'b (0 in flight) beats a (2) and the outsider (7)')
})

test('least-connections: through the plugin, new requests go to the idle target while another has slow in-flight ones', async (t) => {
  const held: Array<() => void> = []
  // Both hold /slow until released and answer anything else at once, so whichever takes /slow is the busy one.
  const handler = (name: string) => (req: { url?: string }, res: { end: (body: string) => void }) => {
    if (req.url === '/slow') held.push(() => res.end(name))
    else res.end(name)
  }
  const ups = [await startUpstream('u0', handler('u0')), await startUpstream('u1', handler('u1'))]
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { balancer: 'least-connections', targets: ups.map((u) => u.url) })
  app.get('/*', (_req, reply) => reply.from())

  const slow = [app.inject('/slow'), app.inject('/slow')]
  await new Promise((resolve) => setTimeout(resolve, 20))
  // Two concurrent requests spread one per target; a third /slow makes u0 or u1 busier than the other.
  slow.push(app.inject('/slow'))
  while (held.length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
  const busy = ups.find((u) => u.hits.filter((h) => h.url === '/slow').length === 2)!
  const idle = ups.find((u) => u !== busy)!
  const answers = new Set<string>()
  for (let i = 0; i < 10; i++) answers.add((await app.inject('/fast')).body)
  const idleName = idle === ups[0] ? 'u0' : 'u1'
  t.same([...answers], [idleName], `all 10 went to ${idleName}, the target with fewer slow requests`)
  held.forEach((release) => release())
  t.same((await Promise.all(slow)).map((res) => res.statusCode), [200, 200, 200])
})
