import { test, type Test } from 'tap'
import http from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import lolly from '../lib/index.js'
import type { TryRecord } from '../lib/pool/pool-events.js'
import { closedPort, startUpstream, type Upstream } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

// A client that goes away stops the upstream request: the target's in-flight count goes back to 0,
// nothing is retried, and the target is not blamed.

async function upstreams (t: Test, ...list: Array<Promise<Upstream>>): Promise<Upstream[]> {
  const started = await Promise.all(list)
  t.teardown(() => Promise.all(started.map((u) => u.close())))
  return started
}

async function listen (t: Test, targets: string[], options: Record<string, unknown> = {}) {
  const logs: Array<{ level: number, msg: string }> = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { logs.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  await app.register(lolly, { targets, balancer: 'first', ...options })
  // Fastify runs no onResponse hook for a client that left, so the tries are read off the requests.
  const calls: Array<{ tries: readonly TryRecord[] }> = []
  app.get('/*', (request, reply) => {
    reply.from()
    calls.push(request.lolly!)
    return reply
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  return { app, port, calls, logs }
}

/** Sends a GET and returns a function that drops the connection. */
function get (port: number, path: string): { drop: () => void, headers: Promise<http.IncomingMessage> } {
  const req = http.get({ port, host: '127.0.0.1', path, agent: false })
  req.on('error', () => {})
  const headers = new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve))
  return { drop: () => req.destroy(), headers }
}

async function until (what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function targetsOf (app: FastifyInstance) {
  return app.lolly.upstreams.default.targets
}

test('a client that leaves mid-request aborts the upstream request, which is not a target failure', async (t) => {
  const [hang, spare] = await upstreams(t, startUpstream('hang', () => {}), startUpstream('spare'))
  const { app, port, calls, logs } = await listen(t, [hang.url, spare.url])
  const client = get(port, '/slow')
  await until('the target got the request', () => hang.hits.length === 1)
  t.equal(targetsOf(app)[0].inflight, 1)
  client.drop()
  await until('in-flight back to 0', () => targetsOf(app)[0].inflight === 0)
  t.same(targetsOf(app).map((s) => [s.inflight, s.failures, s.state]), [[0, 0, 'healthy'], [0, 0, 'healthy']])
  t.equal(spare.hits.length, 0, 'not retried elsewhere')
  t.same(calls[0].tries.map((one) => one.error), ['CLIENT_ABORTED'])
  t.equal(poolOf(app).retryBudget.active, 0)
  t.same(logs.filter((line) => line.level >= 50), [], 'nothing logged as an error')
})

test('a client that leaves while its request waits for a connection gives the slot back at once', async (t) => {
  let release: () => void = () => {}
  const [one] = await upstreams(t, startUpstream('one', (_req, res) => { release = () => res.end('done') }))
  const { app, port, calls } = await listen(t, [one.url], { connections: 1 })
  const first = get(port, '/first')
  await until('the first request holds the only connection', () => one.hits.length === 1)
  const second = get(port, '/second')
  await until('both in flight', () => targetsOf(app)[0].inflight === 2)
  second.drop()
  await until('the waiting one gave its slot back', () => targetsOf(app)[0].inflight === 1)
  release()
  const res = await first.headers
  t.equal(res.statusCode, 200)
  res.resume()
  await until('all done', () => targetsOf(app)[0].inflight === 0)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(one.hits.map((hit) => hit.url), ['/first'], 'the abandoned request was never sent')
  t.equal(targetsOf(app)[0].failures, 0)
  t.same(calls.map((call) => call.tries.map((one) => one.status ?? one.error)), [[200], ['CLIENT_ABORTED']])
})

test('a client that leaves during a backoff stops the retry', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [ok] = await upstreams(t, startUpstream('ok'))
  const random = Math.random
  Math.random = () => 0.99
  t.teardown(() => { Math.random = random })
  const { app, port, calls } = await listen(t, [refused, ok.url], { retry: { backoff: 150 }, passive: false })
  const client = get(port, '/x')
  await until('the first try failed', () => targetsOf(app)[0].failures === 1)
  client.drop()
  await new Promise((resolve) => setTimeout(resolve, 180))
  t.equal(ok.hits.length, 0, 'the retry never went out')
  t.same(calls[0].tries.map((one) => one.error), ['ECONNREFUSED'], 'one try')
  t.equal(poolOf(app).retryBudget.active, 0, 'its budget slot was given back')
  t.same(targetsOf(app).map((s) => s.inflight), [0, 0])
})

test('a client that leaves while the response body streams stops it, without blaming the target', async (t) => {
  const [streaming] = await upstreams(t, startUpstream('streaming', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first chunk')
  }))
  const { app, port, calls } = await listen(t, [streaming.url])
  const client = get(port, '/stream')
  const res = await client.headers
  t.equal(res.statusCode, 200)
  client.drop()
  await until('in-flight back to 0', () => targetsOf(app)[0].inflight === 0)
  t.equal(targetsOf(app)[0].failures, 0)
  t.same(calls[0].tries.map((one) => one.status ?? one.error), [200], 'the try answered: its record is its status')
})

test('a request reply-from refuses before dispatching leaves nothing to abort', async (t) => {
  const [one] = await upstreams(t, startUpstream('one'))
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [one.url] })
  app.get('/*', (_req, reply) => reply.from('http://elsewhere.invalid/x'))
  const res = await app.inject('/x')
  t.equal(res.statusCode, 400)
  t.equal(one.hits.length, 0)
})
