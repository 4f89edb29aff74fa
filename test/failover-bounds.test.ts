import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import lolly from '../lib/index.js'
import { RetryBudget } from '../lib/failover/retry-budget.js'
import { backoffDelay } from '../lib/failover/failover-policy.js'
import { closedPort, startUpstream, type Upstream } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

// What keeps failover from making an outage worse: the retry budget, retry.timeout and the backoff.

async function upstreams (t: Test, ...list: Array<Promise<Upstream>>): Promise<Upstream[]> {
  const started = await Promise.all(list)
  t.teardown(() => Promise.all(started.map((u) => u.close())))
  return started
}

async function setup (t: Test, targets: string[], options: Record<string, unknown> = {}) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets, passive: false, ...options })
  app.get('/*', (_req, reply) => reply.from())
  return app
}

function stubRandom (t: Test, value: number): void {
  const random = Math.random
  Math.random = () => value
  t.teardown(() => { Math.random = random })
}

// Every target answers 503 after 100 ms, so the first tries of a burst are all in flight together.
const slowlyBusy = (name: string) => startUpstream(name, (_req, res) => {
  setTimeout(() => res.writeHead(503).end(`busy ${name}`), 100)
})

test('with every target failing, the retry budget bounds the upstream attempts', async (t) => {
  const targets = await upstreams(t, slowlyBusy('a'), slowlyBusy('b'), slowlyBusy('c'))
  const requests = 50
  const hits = () => targets.reduce((sum, u) => sum + u.hits.length, 0)

  const app = await setup(t, targets.map((u) => u.url))
  const answers = await Promise.all(Array.from({ length: requests }, () => app.inject('/x')))
  t.ok(answers.every((res) => res.statusCode === 503 && res.body.startsWith('busy ')), 'every client got a target\'s 503, body and all')
  const withBudget = hits()
  // Retries may be 20 % of the requests (10 of 50); beyond that only the 3 always allowed in flight,
  // each with at most attempts (2) tries.
  const bound = requests * (1 + 0.2) + 3 * 2
  t.ok(withBudget <= bound, `${withBudget} upstream attempts for ${requests} requests (bound ${bound})`)
  t.equal(poolOf(app).retryBudget.active, 0, 'every slot was given back')

  for (const u of targets) u.hits.length = 0
  const unbounded = await setup(t, targets.map((u) => u.url), { retry: { budget: false } })
  await Promise.all(Array.from({ length: requests }, () => unbounded.inject('/x')))
  t.equal(hits(), requests * 3, 'without a budget every request tries all three targets')
  t.ok(withBudget < hits() / 2, 'the budget cut the attempts by more than half')
})

test('the budget always allows minConcurrency retries, and percent above it', async (t) => {
  const [busy, ok] = await upstreams(t, slowlyBusy('busy'), startUpstream('ok'))
  const app = await setup(t, [busy.url, ok.url], { balancer: 'first', retry: { budget: { percent: 0, minConcurrency: 0 } } })
  t.equal((await app.inject('/x')).statusCode, 503, 'a budget of nothing allows no retry')
  const app2 = await setup(t, [busy.url, ok.url], { balancer: 'first', retry: { budget: { percent: 100, minConcurrency: 0 } } })
  t.equal((await app2.inject('/x')).statusCode, 200, '100 % of one request in flight is one retry')
})

test('a retry after no connection could be opened takes no budget: requests failing to connect at once all move on', async (t) => {
  // Found by the blackhole test: four GETs timing out connecting to a vanished host in the same
  // instant, at low traffic, were three retries and a 504.
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [ok] = await upstreams(t, startUpstream('ok'))
  const app = await setup(t, [refused, ok.url], { balancer: 'first', retry: { budget: { percent: 0, minConcurrency: 0 } } })
  const answers = await Promise.all(Array.from({ length: 8 }, () => app.inject('/x')))
  t.same(answers.map((res) => res.statusCode), Array(8).fill(200), 'every request retried on the other target')
  t.equal(poolOf(app).retryBudget.active, 0)
})

test('retry.timeout: no new try starts after it', async (t) => {
  const [late, ok] = await upstreams(t, startUpstream('late', (_req, res) => {
    setTimeout(() => res.writeHead(503).end('late'), 120)
  }), startUpstream('ok'))
  const app = await setup(t, [late.url, ok.url], { balancer: 'first', retry: { timeout: 100 } })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503, 'the first try took 120 ms of the 100: its answer is the client\'s')
  t.equal(ok.hits.length, 0)
  const app2 = await setup(t, [late.url, ok.url], { balancer: 'first', retry: { timeout: 1000 } })
  t.equal((await app2.inject('/x')).statusCode, 200)
})

test('backoff waits before a retry, and not past retry.timeout', async (t) => {
  stubRandom(t, 0.99)
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [ok] = await upstreams(t, startUpstream('ok'))
  const app = await setup(t, [refused, ok.url], { balancer: 'first', retry: { backoff: 100 } })
  const started = performance.now()
  t.equal((await app.inject('/x')).statusCode, 200)
  const elapsed = performance.now() - started
  t.ok(elapsed >= 95, `waited ${Math.round(elapsed)} ms (random 0.99 of 100 ms)`)

  const app2 = await setup(t, [refused, ok.url], { balancer: 'first', retry: { backoff: 100, timeout: 50 } })
  const started2 = performance.now()
  t.equal((await app2.inject('/x')).statusCode, 502, 'a backoff that would end after retry.timeout means no retry')
  t.ok(performance.now() - started2 < 90, 'and no waiting')
})

test('backoff is exponential with full jitter, capped at 10 x base', async (t) => {
  t.equal(backoffDelay(25, 1, 0.5), 12)
  t.equal(backoffDelay(25, 2, 0.999), 74)
  t.equal(backoffDelay(25, 3, 1), 175)
  t.equal(backoffDelay(25, 10, 1), 250)
  t.equal(backoffDelay(25, 10, 0), 0)
})

test('a target that went out during the backoff is replaced, or the client gets 503', async (t) => {
  stubRandom(t, 0.99)
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [b, c] = await upstreams(t, startUpstream('b'), startUpstream('c'))
  const app = await setup(t, [refused, b.url, c.url], { balancer: 'first', retry: { backoff: 100 } })
  const pool = poolOf(app)
  const pending = app.inject('/x')
  setTimeout(() => pool.health.transition(pool.target(b.url)!, 'disabled', 'test'), 40)
  const res = await pending
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'c GET /x', 'b was planned, c took it')
  t.equal(b.hits.length, 0)

  const app2 = await setup(t, [refused, b.url], { balancer: 'first', retry: { backoff: 100 } })
  const pool2 = poolOf(app2)
  const pending2 = app2.inject('/x')
  setTimeout(() => pool2.health.transition(pool2.target(b.url)!, 'disabled', 'test'), 40)
  const res2 = await pending2
  t.equal(res2.statusCode, 503)
  t.equal(res2.json().code, 'FST_LOLLY_NO_AVAILABLE_TARGET')
  t.equal(pool2.retryBudget.active, 0)
})

test('a target removed, or the whole pool closed, during the backoff: the retry never goes to closed connections', async (t) => {
  stubRandom(t, 0.99)
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [b, c] = await upstreams(t, startUpstream('b'), startUpstream('c'))
  const during = async (targets: string[], change: (app: FastifyInstance) => Promise<void>) => {
    const app = await setup(t, targets, { balancer: 'first', retry: { backoff: 100 } })
    const pending = app.inject('/x')
    let changed: Promise<void> | undefined
    setTimeout(() => { changed = change(app) }, 40)
    const res = await pending
    await changed
    return res
  }
  const removed = await during([refused, b.url, c.url], (app) => app.lolly.removeTarget('default', b.url))
  t.equal(removed.statusCode, 200)
  t.equal(removed.body, 'c GET /x', 'b was planned and removed, c took it')
  const closed = await during([refused, b.url], (app) => app.lolly.upstreams.default.dispatcher.close())
  t.equal(closed.statusCode, 503)
  t.equal(closed.json().code, 'FST_LOLLY_POOL_CLOSED')
  t.equal(b.hits.length, 0)
})

test('the budget weighs retries against the requests of the last 10 seconds', async (t) => {
  const settings = { ratio: 0.2, minConcurrency: 0 }
  const budget = new RetryBudget()
  for (let i = 0; i < 10; i++) budget.recordRequest(1000)
  t.ok(budget.tryAcquire(settings, 1000), '10 requests earn 2 retries')
  t.ok(budget.tryAcquire(settings, 1000))
  t.notOk(budget.tryAcquire(settings, 1000), 'not 3')
  t.equal(budget.active, 2)
  budget.release()
  budget.release()
  t.notOk(budget.tryAcquire(settings, 1000), 'a retry that ended still counts in its window')
  // 15 s on, half of the previous window is still inside the last 10 s: 5 requests, 1 retry weighed.
  t.notOk(budget.tryAcquire(settings, 15_000), '1 + 1 retries > 20 % of 5 requests')
  for (let i = 0; i < 5; i++) budget.recordRequest(15_000)
  t.ok(budget.tryAcquire(settings, 15_000), '10 requests now, 1 retry: one more fits')
  t.notOk(budget.tryAcquire(settings, 15_000))
  t.notOk(budget.tryAcquire(settings, 60_000), 'long after, nothing is left of either window')
  budget.recordRequest(60_000)
  t.notOk(budget.tryAcquire(settings, 60_000), 'one request earns a fifth of a retry')
  t.ok(budget.tryAcquire({ ratio: 0, minConcurrency: 3 }, 60_000), 'but the floor always allows a few')
  t.ok(budget.tryAcquire(null, 60_000), 'and no budget allows all')
})
