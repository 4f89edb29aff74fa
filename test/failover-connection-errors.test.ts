import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { request } from 'undici'
import lolly from '../lib/index.js'
import { closedPort, startUpstream, type Upstream } from './helpers/upstreams.js'

// A try that fails before the response headers (refused, reset, timed out) goes to another target;
// the client sees an error only when every try failed.

async function setup (t: Test, targets: string[], options: Record<string, unknown> = {}, route: Record<string, unknown> = {}) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets, passive: false, ...options })
  app.get('/*', { config: route }, (_req, reply) => reply.from())
  return app
}

async function upstreams (t: Test, ...list: Array<Promise<Upstream>>): Promise<Upstream[]> {
  const started = await Promise.all(list)
  t.teardown(() => Promise.all(started.map((u) => u.close())))
  return started
}

const resets = (name: string) => startUpstream(name, (req) => { req.socket.destroy() })
const hangs = (name: string) => startUpstream(name, () => {})

test('a refused port and a reset connection are retried on another target: the client gets 200', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [reset, ok] = await upstreams(t, resets('reset'), startUpstream('ok'))
  const app = await setup(t, [refused, reset.url, ok.url])
  let tries: unknown
  app.addHook('onResponse', async (request) => { tries = request.lolly!.tries.map((one) => [one.target, one.status ?? one.error]) })

  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'ok GET /x')
  t.same(tries, [[refused, 'ECONNREFUSED'], [reset.url, 'UND_ERR_SOCKET'], [ok.url, 200]])
  t.equal(reset.hits.length, 1, 'the reset target saw the request once')
  const snapshots = app.lolly.upstreams.default.targets
  t.same(snapshots.map((s) => [s.failures, s.inflight]), [[1, 0], [1, 0], [0, 0]], 'each failed try counts against its target; nothing left in flight')
})

test('the same target is never tried twice, and attempts bound the tries', async (t) => {
  const failing = await upstreams(t, resets('a'), resets('b'), resets('c'), resets('d'))
  const app = await setup(t, failing.map((u) => u.url), { retry: { attempts: 5 } })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'FST_LOLLY_BAD_GATEWAY')
  t.same(failing.map((u) => u.hits.length), [1, 1, 1, 1], 'four targets, four tries, one each: attempts 5 is bounded by the pool')

  const app2 = await setup(t, failing.map((u) => u.url), { retry: { attempts: 1 } })
  const res2 = await app2.inject('/y')
  t.equal(res2.statusCode, 502)
  t.equal(failing.reduce((sum, u) => sum + u.hits.filter((hit) => hit.url === '/y').length, 0), 2, 'attempts 1: two tries in all')
})

test('a response-header timeout is retried; when every try timed out the client gets 504', async (t) => {
  const [slow, ok, slow2] = await upstreams(t, hangs('slow'), startUpstream('ok'), hangs('slow2'))
  const app = await setup(t, [slow.url, ok.url], {}, { upstream: { responseTimeout: 100 } })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(slow.hits.length, 1)

  const app2 = await setup(t, [slow.url, slow2.url], { responseTimeout: 100 })
  const res2 = await app2.inject('/y')
  t.equal(res2.statusCode, 504)
  t.equal(res2.json().code, 'FST_LOLLY_GATEWAY_TIMEOUT')
  t.equal(slow2.hits.length, 1)
})

test("retry.on decides which failures move on: without 'reset' a reset is the client's 502", async (t) => {
  const [reset, ok] = await upstreams(t, resets('reset'), startUpstream('ok'))
  const app = await setup(t, [reset.url, ok.url], { retry: { on: ['connect-error', 'timeout'] } })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 502)
  t.equal(ok.hits.length, 0)
})

test('retry: false on a route turns failover off; the route may also turn it back on', async (t) => {
  const [reset, ok] = await upstreams(t, resets('reset'), startUpstream('ok'))
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [reset.url, ok.url], passive: false, balancer: 'first', retry: false })
  app.get('/off', (_req, reply) => reply.from())
  app.get('/on', { config: { upstream: { retry: true } } }, (_req, reply) => reply.from())
  app.get('/on-with-options', { config: { upstream: { retry: { attempts: 1 } } } }, (_req, reply) => reply.from())
  t.equal((await app.inject('/off')).statusCode, 502)
  t.equal((await app.inject('/on')).statusCode, 200)
  t.equal((await app.inject('/on-with-options')).statusCode, 200)

  const app2 = Fastify()
  t.teardown(() => app2.close())
  await app2.register(lolly, { targets: [reset.url, ok.url], passive: false, balancer: 'first' })
  app2.get('/off', { config: { upstream: { retry: false } } }, (_req, reply) => reply.from())
  app2.get('/on', { config: { upstream: { retry: true } } }, (_req, reply) => reply.from())
  t.equal((await app2.inject('/off')).statusCode, 502)
  t.equal((await app2.inject('/on')).statusCode, 200)
})

test('sameTarget lets the only target be tried again', async (t) => {
  let calls = 0
  const [flaky] = await upstreams(t, startUpstream('flaky', (req, res) => {
    if (calls++ === 0) req.socket.destroy()
    else res.end('second time')
  }))
  const off = await setup(t, [flaky.url])
  t.equal((await off.inject('/x')).statusCode, 502, 'by default a lone target is not tried twice')
  const on = await setup(t, [flaky.url], { retry: { sameTarget: true } })
  calls = 0
  const res = await on.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'second time')
})

test('a body that breaks off after the headers went to the client is not retried', async (t) => {
  const [partial, ok] = await upstreams(t, startUpstream('partial', (req, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('part')
    setTimeout(() => req.socket.destroy(), 20)
  }), startUpstream('ok'))
  const app = await setup(t, [partial.url, ok.url], { balancer: 'first' })
  // The client got the 200 and part of the body, then its response was cut: it sees a broken response.
  await t.rejects(app.inject('/x'), { code: 'LIGHT_ECONNRESET' })
  t.equal(ok.hits.length, 0)
  t.equal(app.lolly.upstreams.default.targets[0].failures, 1, 'the broken body counts against the target')
})

test('a request undici refuses to send is not retried on another target, nor charged to one', async (t) => {
  const [a, b] = await upstreams(t, startUpstream('a'), startUpstream('b'))
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [a.url, b.url] })
  app.post('/x', (_req, reply) => reply.from('/x', {
    // A content-length that does not match the body: every target would fail the same way.
    rewriteRequestHeaders: (_request, headers) => ({ ...headers, 'content-length': '999' })
  }))
  const res = await app.inject({ method: 'POST', url: '/x', headers: { 'content-type': 'text/plain' }, payload: 'short' })
  t.equal(res.statusCode, 400, 'the request was at fault, not a gateway')
  t.equal(res.json().code, 'FST_LOLLY_UNSENDABLE_REQUEST')
  t.equal(app.lolly.upstreams.default.targets.reduce((sum, s) => sum + s.requests, 0), 1, 'one try')
  t.equal(app.lolly.upstreams.default.targets.reduce((sum, s) => sum + s.failures, 0), 0, 'no target charged')
  t.match(app.lolly.targets.map((s) => s.state), ['healthy', 'healthy'])
})

test('failover works for undici requests sent straight to the pool', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [ok] = await upstreams(t, startUpstream('ok'))
  const app = await setup(t, [refused, ok.url], { balancer: 'first' })
  const res = await request('http://anything/direct', { dispatcher: app.lolly.upstreams.default.dispatcher })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'ok GET /direct')
})

test('with every target down the client gets 503 FST_LOLLY_NO_AVAILABLE_TARGET', async (t) => {
  const [a] = await upstreams(t, startUpstream('a'))
  const app = await setup(t, [{ url: a.url, down: true }] as never)
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_LOLLY_NO_AVAILABLE_TARGET')
})

test('1xx informational answers pass through and are not the try\'s result', async (t) => {
  const [hints] = await upstreams(t, startUpstream('hints', (_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' })
    res.end('after hints')
  }))
  const app = await setup(t, [hints.url])
  let statuses: unknown
  app.addHook('onResponse', async (request) => { statuses = request.lolly!.tries.map((one) => one.status) })
  const res = await app.inject('/x')
  t.equal(res.body, 'after hints')
  t.same(statuses, [200])
})

test("a route's timeouts apply to each try; reply.from's own timeout wins", async (t) => {
  const [slow, stalls] = await upstreams(t, hangs('slow'), startUpstream('stalls', (_req, res) => {
    res.writeHead(200, { 'content-length': '10' })
    res.write('12345')
  }))
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [slow.url], passive: false, retry: false })
  app.get('/own', { config: { upstream: { responseTimeout: 60_000 } } }, (_req, reply) => reply.from('/own', { timeout: 100 }))
  const started = performance.now()
  const res = await app.inject('/own')
  t.equal(res.statusCode, 504)
  t.ok(performance.now() - started < 5000, 'the 100 ms of reply.from, not the route\'s minute')

  const app2 = Fastify()
  t.teardown(() => app2.close())
  await app2.register(lolly, { targets: [stalls.url], passive: false })
  let upstream: string | undefined
  app2.get('/body', { config: { upstream: { bodyTimeout: 100 } } }, (request, reply) => {
    reply.from()
    upstream = request.lolly!.upstream
    return reply
  })
  await t.rejects(app2.inject('/body'), { code: 'LIGHT_ECONNRESET' }, 'the body stalled past the route\'s bodyTimeout')
  t.equal(upstream, 'default')
  t.equal(app2.lolly.upstreams.default.targets[0].inflight, 0)
})

test('each try goes to its own target\'s base path', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [ok] = await upstreams(t, startUpstream('ok'))
  const app = await setup(t, [`${refused}/v1`, `${ok.url}/v2`], { balancer: 'first' })
  const res = await app.inject('/x?q=1')
  t.equal(res.body, 'ok GET /v2/x?q=1', 'not /v1/v2/x: the first try\'s path does not stick')
})
