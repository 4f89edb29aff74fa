import { test, type Test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { closedPort, startUpstream, type Upstream } from './helpers/upstreams.js'

// Which requests may go to a second target: a POST only if the first never received it; a body
// Fastify buffered is sent again; a streamed body only if none of it was read.

async function upstreams (t: Test, ...list: Array<Promise<Upstream>>): Promise<Upstream[]> {
  const started = await Promise.all(list)
  t.teardown(() => Promise.all(started.map((u) => u.close())))
  return started
}

// Reads the whole request, then drops the connection: the target got the request and never answered.
const resetsAfterReading = (name: string) => startUpstream(name, (req) => { req.socket.destroy() })
const echoes = (name: string) => startUpstream(name, (req, res, body) => { res.end(`${name} ${req.method} ${body}`) })

async function setup (t: Test, targets: string[], options: Record<string, unknown> = {}) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets, passive: false, balancer: 'first', ...options })
  app.all('/*', (_req, reply) => reply.from())
  return app
}

test('a POST whose request reached the target is not retried', async (t) => {
  const [reset, ok] = await upstreams(t, resetsAfterReading('reset'), echoes('ok'))
  const app = await setup(t, [reset.url, ok.url])
  const res = await app.inject({ method: 'POST', url: '/order', payload: { item: 1 } })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'FST_LOLLY_BAD_GATEWAY')
  t.equal(reset.hits.length, 1)
  t.equal(ok.hits.length, 0, 'the order was not placed twice')

  const patch = await app.inject({ method: 'PATCH', url: '/order', payload: { item: 2 } })
  t.equal(patch.statusCode, 502, 'PATCH neither')

  const app2 = await setup(t, [reset.url, ok.url], { retry: { nonIdempotent: true } })
  t.equal((await app2.inject({ method: 'POST', url: '/order', payload: { item: 1 } })).statusCode, 200, 'unless nonIdempotent')
})

test('a POST whose connection was refused is retried, its body intact', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [ok] = await upstreams(t, echoes('ok'))
  const app = await setup(t, [refused, ok.url])
  const payload = { item: 1, note: 'ünïcode ✓', list: [1, 2, 3] }
  const res = await app.inject({ method: 'POST', url: '/order', payload })
  t.equal(res.statusCode, 200)
  t.same(JSON.parse(res.body.slice('ok POST '.length)), payload)
})

test('a buffered JSON body that reached the first target arrives intact at the second', async (t) => {
  const [reset, ok] = await upstreams(t, resetsAfterReading('reset'), echoes('ok'))
  const app = await setup(t, [reset.url, ok.url])
  const payload = { id: 7, text: 'x'.repeat(100_000), nested: { ok: true } }
  const res = await app.inject({ method: 'PUT', url: '/doc/7', payload })
  t.equal(res.statusCode, 200)
  t.equal(reset.hits[0].body, JSON.stringify(payload), 'the first target read the whole body')
  t.equal(ok.hits[0].body, JSON.stringify(payload), 'and the second got the same bytes')
  t.equal(ok.hits[0].headers['content-length'], String(Buffer.byteLength(JSON.stringify(payload))))
})

async function streamingApp (t: Test, targets: string[]) {
  const app = Fastify()
  t.teardown(() => app.close())
  // The body stays a stream: reply-from pipes it to the target as it arrives.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => { done(null, payload) })
  await app.register(lolly, { targets, passive: false, balancer: 'first' })
  app.put('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}

async function putStream (url: string, body: string): Promise<{ status: number, text: string }> {
  const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body })
  return { status: res.status, text: await res.text() }
}

test('a streamed body that was read by a failed try is not retried', async (t) => {
  const [reset, ok] = await upstreams(t, resetsAfterReading('reset'), echoes('ok'))
  const base = await streamingApp(t, [reset.url, ok.url])
  const res = await putStream(`${base}/upload`, 'stream me')
  t.equal(res.status, 502)
  t.equal(reset.hits[0].body, 'stream me')
  t.equal(ok.hits.length, 0, 'the stream was consumed: nothing left to send again')
})

test('a streamed body not read yet is retried', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const [ok] = await upstreams(t, echoes('ok'))
  const base = await streamingApp(t, [refused, ok.url])
  const res = await putStream(`${base}/upload`, 'stream me')
  t.equal(res.status, 200)
  t.equal(res.text, 'ok PUT stream me')
})
