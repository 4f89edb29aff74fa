import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { closedPort, startUpstream } from './helpers/upstreams.js'

// reply-from's rewriteRequestHeaders sees `host` as the upstream's host, and a Host it sets is sent.

test('rewriteRequestHeaders sees the Host of the target the request goes to', async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })
  await app.register(lolly, { targets: [a.url, b.url], healthCheck: false })
  const seen: unknown[] = []
  app.get('/*', (_req, reply) => reply.from(undefined, {
    rewriteRequestHeaders: (_request, headers) => { seen.push(headers.host); return headers }
  }))
  for (let i = 0; i < 4; i++) await app.inject('/x')
  const hits = [...a.hits.map(() => `127.0.0.1:${a.port}`), ...b.hits.map(() => `127.0.0.1:${b.port}`)]
  t.same([...seen].sort(), hits.sort(), 'each request saw the host of the target it reached')
  t.equal(a.hits.length, 2)
  for (const hit of a.hits) t.equal(hit.headers.host, `127.0.0.1:${a.port}`)
})

test('a Host set by rewriteRequestHeaders is sent as set, to every target a failover tries', async (t) => {
  const dead = await closedPort()
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [`http://127.0.0.1:${dead}`, up.url], balancer: 'first', healthCheck: false, passive: false })
  app.get('/virtual', (_req, reply) => reply.from('/x', {
    rewriteRequestHeaders: (_request, headers) => ({ ...headers, host: 'api.example.test' })
  }))
  // A request body: reply-from's path, where the same rule holds.
  app.post('/virtual', (_req, reply) => reply.from('/x', {
    rewriteRequestHeaders: (_request, headers) => ({ ...headers, host: 'api.example.test' })
  }))
  app.get('/plain', (_req, reply) => reply.from('/x', {
    rewriteRequestHeaders: (_request, headers) => ({ ...headers, 'x-mine': '1' })
  }))
  const virtual = await app.inject('/virtual')
  t.equal(virtual.statusCode, 200)
  t.equal(up.hits[0].headers.host, 'api.example.test', 'the caller\'s Host survived the failover')
  t.equal((await app.inject('/plain')).statusCode, 200)
  t.equal(up.hits[1].headers.host, `127.0.0.1:${up.port}`, 'a Host the caller left alone follows the target through the failover')
  t.equal(up.hits[1].headers['x-mine'], '1')
  const posted = await app.inject({ method: 'POST', url: '/virtual', headers: { 'content-type': 'text/plain' }, payload: 'body' })
  t.equal(posted.statusCode, 200)
  t.equal(up.hits[2].headers.host, 'api.example.test', 'on reply-from\'s path too')
  t.equal(up.hits[2].body, 'body')
})

test('a pool with no target left: rewriteRequestHeaders still runs, and the client gets 503', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url], healthCheck: false })
  let calls = 0
  app.get('/*', (_req, reply) => reply.from(undefined, { rewriteRequestHeaders: (_request, headers) => { calls++; return headers } }))
  await app.lolly.removeTarget('default', up.url)
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_LOLLY_NO_AVAILABLE_TARGET')
  t.equal(calls, 1)
})
