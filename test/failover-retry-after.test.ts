import { test } from 'tap'
import FakeTimers from '@sinonjs/fake-timers'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { findRetryAfter, retryAfterUntil } from '../lib/failover/retry-after.js'
import { startUpstream } from './helpers/upstreams.js'

// A target that answers 503 with Retry-After is not picked again before then: seconds, or an HTTP date.

test('a 503 with Retry-After: 2 is retried elsewhere and its target is skipped for 2 seconds', async (t) => {
  // Only Date is faked: sockets and undici's timers run for real, the pool's clock is ours.
  const clock = FakeTimers.install({ toFake: ['Date'], now: Date.UTC(2026, 0, 1) })
  t.teardown(() => clock.uninstall())
  let busy = true
  const a = await startUpstream('a', (_req, res) => {
    if (busy) res.writeHead(503, { 'retry-after': '2' }).end('come back later')
    else res.end('a is back')
  })
  const b = await startUpstream('b')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })
  await app.register(lolly, { targets: [a.url, b.url], passive: false })
  app.get('/*', (_req, reply) => reply.from())

  const first = await app.inject('/x')
  t.equal(first.statusCode, 200)
  t.equal(first.body, 'b GET /x', 'the 503 went to the next target')
  t.equal(a.hits.length, 1)
  busy = false

  for (let i = 0; i < 6; i++) t.equal((await app.inject('/x')).body, 'b GET /x', 'a is skipped')
  clock.tick(1999)
  for (let i = 0; i < 4; i++) t.equal((await app.inject('/x')).body, 'b GET /x', 'still skipped at 1.999 s')
  t.equal(a.hits.length, 1, 'no request reached a during its Retry-After')
  clock.tick(1)
  const bodies = []
  for (let i = 0; i < 4; i++) bodies.push((await app.inject('/x')).body)
  t.ok(bodies.includes('a is back'), 'a takes traffic again after 2 s')
})

test('Retry-After is read as seconds or an HTTP date, and capped', async (t) => {
  const now = Date.UTC(2026, 0, 1)
  t.equal(retryAfterUntil('2', now, 30_000), now + 2000, 'seconds, not milliseconds')
  t.equal(retryAfterUntil(' 120 ', now, 30_000), now + 30_000, 'capped at maxRetryAfter')
  t.equal(retryAfterUntil(new Date(now + 5000).toUTCString(), now, 30_000), now + 5000, 'an HTTP date')
  t.equal(retryAfterUntil(new Date(now - 5000).toUTCString(), now, 30_000), undefined, 'a date in the past')
  t.equal(retryAfterUntil('0', now, 30_000), undefined)
  t.equal(retryAfterUntil('soon', now, 30_000), undefined, 'unreadable')
  t.equal(retryAfterUntil(undefined, now, 30_000), undefined, 'absent')
  t.equal(findRetryAfter([Buffer.from('Content-Type'), Buffer.from('text/plain'), Buffer.from('Retry-After'), Buffer.from('7')]), '7')
  t.equal(findRetryAfter([Buffer.from('content-length'), Buffer.from('0'), Buffer.from('x-retry-after'), Buffer.from('7')]), undefined)
})

test('maxRetryAfter: 0 ignores Retry-After', async (t) => {
  const a = await startUpstream('a', (_req, res) => { res.writeHead(503, { 'retry-after': '60' }).end() })
  const b = await startUpstream('b')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })
  await app.register(lolly, { targets: [a.url, b.url], passive: false, retry: { maxRetryAfter: 0 } })
  app.get('/*', (_req, reply) => reply.from())
  for (let i = 0; i < 4; i++) t.equal((await app.inject('/x')).statusCode, 200)
  t.equal(a.hits.length, 4, 'a is still picked first by every request (round robin moves on by two each time)')
})
