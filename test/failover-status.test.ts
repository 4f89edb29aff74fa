import { test, type Test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream, type Upstream, type UpstreamHandler } from './helpers/upstreams.js'

// A target that answers a retried status (502, 503, 504 by default) is left for another one; the
// client gets that answer only when no other try is allowed.

async function upstreams (t: Test, ...list: Array<Promise<Upstream>>): Promise<Upstream[]> {
  const started = await Promise.all(list)
  t.teardown(() => Promise.all(started.map((u) => u.close())))
  return started
}

function answers (status: number, body: string, headers: Record<string, string> = {}): UpstreamHandler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers })
    res.end(body)
  }
}

async function setup (t: Test, targets: string[], options: Record<string, unknown> = {}) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets, passive: false, ...options })
  app.all('/*', (_req, reply) => reply.from())
  return app
}

test('a 503 is retried elsewhere and its answer never reaches the client', async (t) => {
  const [busy, ok] = await upstreams(t, startUpstream('busy', answers(503, 'busy')), startUpstream('ok'))
  const app = await setup(t, [busy.url, ok.url], { balancer: 'first' })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'ok GET /x')
  t.equal(busy.hits.length, 1)
  t.equal(app.lolly.upstreams.default.targets[0].failures, 1, 'the 503 counts against its target')
})

test('when every try answered 503 the client gets the last answer, body and all', async (t) => {
  const targets = await upstreams(t, ...['a', 'b', 'c'].map((name) => startUpstream(name, answers(503, `busy ${name}`, { 'x-from': name }))))
  const app = await setup(t, targets.map((u) => u.url), { balancer: 'first' })
  let tries: unknown
  app.addHook('onResponse', async (request) => { tries = request.lolly!.tries.map((one) => one.status) })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'busy c')
  t.equal(res.headers['x-from'], 'c')
  t.same(tries, [503, 503, 503])
})

test('500 is the application\'s answer and is not retried unless listed', async (t) => {
  const [failing, ok] = await upstreams(t, startUpstream('failing', answers(500, 'bug')), startUpstream('ok'))
  const app = await setup(t, [failing.url, ok.url], { balancer: 'first' })
  t.equal((await app.inject('/x')).statusCode, 500)
  const app2 = await setup(t, [failing.url, ok.url], { balancer: 'first', retry: { statuses: [500] } })
  t.equal((await app2.inject('/x')).statusCode, 200)
  const app3 = await setup(t, [failing.url, ok.url], { balancer: 'first', retry: { on: ['reset'] } })
  const busy = await upstreams(t, startUpstream('busy', answers(503, 'busy')))
  const app4 = await setup(t, [busy[0].url, ok.url], { balancer: 'first', retry: { on: ['reset'] } })
  t.equal((await app3.inject('/x')).statusCode, 500)
  t.equal((await app4.inject('/x')).statusCode, 503, "without 'status' in retry.on no status is retried")
})

test('a POST that got an answer is not retried, even a 503', async (t) => {
  const [busy, ok] = await upstreams(t, startUpstream('busy', answers(503, 'busy')), startUpstream('ok'))
  const app = await setup(t, [busy.url, ok.url], { balancer: 'first' })
  const res = await app.inject({ method: 'POST', url: '/x', payload: { a: 1 } })
  t.equal(res.statusCode, 503)
  t.equal(ok.hits.length, 0)
  const app2 = await setup(t, [busy.url, ok.url], { balancer: 'first', retry: { nonIdempotent: true } })
  t.equal((await app2.inject({ method: 'POST', url: '/x', payload: { a: 1 } })).statusCode, 200, 'unless nonIdempotent')
})

test('a large retried answer is cut instead of read to its end', async (t) => {
  const big = 'x'.repeat(200 * 1024)
  const [busy, ok] = await upstreams(t, startUpstream('busy', answers(503, big)), startUpstream('ok'))
  const app = await setup(t, [busy.url, ok.url], { balancer: 'first' })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'ok GET /x')
  t.same(app.lolly.upstreams.default.targets.map((s) => s.inflight), [0, 0])
})

test('a retried answer whose body breaks off still moves on', async (t) => {
  const [broken, ok] = await upstreams(t, startUpstream('broken', (req, res) => {
    res.writeHead(502, { 'content-length': '100' })
    res.write('partial')
    setTimeout(() => req.socket.destroy(), 10)
  }), startUpstream('ok'))
  const app = await setup(t, [broken.url, ok.url], { balancer: 'first' })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(app.lolly.upstreams.default.targets[0].failures, 1, 'the 502 counted once, the broken body not again')
})
