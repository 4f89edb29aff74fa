import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream, startUpstreams } from './helpers/upstreams.js'

// reply-from's getUpstream(request, base) chooses the upstream per request. Behind a pool, `base` is
// the URL of the target the balancer picked, and what it returns is honoured within the pool.

test('getUpstream sees the picked target as base; returning it keeps the balancer\'s pick', async (t) => {
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((up) => up.close())) })
  await app.register(lolly, { targets: ups.map((up) => up.url), healthCheck: false })
  const seen: string[] = []
  app.get('/*', (_req, reply) => reply.from(undefined, {
    getUpstream: (_request, base) => { seen.push(base); return base }
  }))
  const bodies: string[] = []
  for (let i = 0; i < 6; i++) bodies.push((await app.inject(`/r${i}`)).body)
  t.same(new Set(seen), new Set(ups.map((up) => up.url)), 'every base is a real target URL')
  for (let i = 0; i < 6; i++) {
    const name = `u${ups.findIndex((up) => up.url === seen[i])}`
    t.equal(bodies[i], `${name} GET /r${i}`, `request ${i} went to the base it was shown`)
  }
})

test('getUpstream may send a request to another target of the pool: its URL, with or without a trailing slash', async (t) => {
  const ups = await startUpstreams(2)
  const based = await startUpstream('based')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all([...ups, based].map((up) => up.close())) })
  await app.register(lolly, { targets: [ups[0].url, ups[1].url, `${based.url}/v2`], healthCheck: false })
  app.get('/tenant/:n', (request, reply) => reply.from('/x', {
    getUpstream: () => {
      const n = (request.params as { n: string }).n
      return n === 'based' ? `${based.url}/v2/` : ups[Number(n)].url
    }
  }))
  for (let i = 0; i < 4; i++) t.equal((await app.inject('/tenant/1')).body, 'u1 GET /x', 'always the named target')
  t.equal((await app.inject('/tenant/based')).body, 'based GET /v2/x', 'a target\'s base path is added as for any request')
})

test('getUpstream may answer a URL object, or an array whose first entry is the target (as reply-from reads a base array)', async (t) => {
  const ups = await startUpstreams(2)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((up) => up.close())) })
  await app.register(lolly, { targets: ups.map((up) => up.url), healthCheck: false })
  app.get('/url', (_req, reply) => reply.from('/x', { getUpstream: () => new URL(ups[1].url) as unknown as string }))
  app.get('/array', (_req, reply) => reply.from('/x', { getUpstream: () => [ups[1].url, ups[0].url] as unknown as string }))
  for (let i = 0; i < 2; i++) {
    t.equal((await app.inject('/url')).body, 'u1 GET /x')
    t.equal((await app.inject('/array')).body, 'u1 GET /x')
  }
})

test('a target getUpstream names that asked to be left alone (503 with Retry-After) is passed over while it asks', async (t) => {
  const busy = await startUpstream('busy', (_req, res) => { res.statusCode = 503; res.setHeader('retry-after', '30'); res.end('busy') })
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await busy.close(); await up.close() })
  await app.register(lolly, { targets: [busy.url, up.url], balancer: 'first', healthCheck: false, passive: false, retry: { on: ['connect-error', 'status'], statuses: [503] } })
  app.get('/*', (_req, reply) => reply.from(undefined, { getUpstream: () => busy.url }))
  t.equal((await app.inject('/a')).body, 'up GET /a', 'its 503 failed over')
  t.equal((await app.inject('/b')).body, 'up GET /b', 'then it is passed over')
  t.equal(busy.hits.length, 1)
})

test('a target getUpstream names that cannot take traffic is passed over: health decides', async (t) => {
  const ups = await startUpstreams(2)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((up) => up.close())) })
  await app.register(lolly, { targets: ups.map((up) => up.url), healthCheck: false })
  app.get('/*', (_req, reply) => reply.from(undefined, { getUpstream: () => ups[0].url }))
  await app.lolly.disable('default', ups[0].url)
  t.equal((await app.inject('/x')).body, 'u1 GET /x')
})

test('getUpstream answering anything but a target of the pool is a server error (500), and nothing is sent', async (t) => {
  const up = await startUpstream('up')
  const outside = await startUpstream('outside')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close(); await outside.close() })
  await app.register(lolly, { targets: [`${up.url}/base`], healthCheck: false })
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const answers: unknown[] = [outside.url, 'not a url', `${up.url}`, `${up.url}/other`, `${up.url}/base?x=1`, 42, undefined, 10n, circular, [outside.url], new URL(outside.url)]
  app.get('/:i', (request, reply) => reply.from('/x', { getUpstream: () => answers[Number((request.params as { i: string }).i)] as string }))
  for (let i = 0; i < answers.length; i++) {
    const res = await app.inject(`/${i}`)
    t.equal(res.statusCode, 500, `${String(answers[i])} answers 500`)
    t.equal(res.json().code, 'FST_LOLLY_UPSTREAM_NOT_IN_POOL')
  }
  t.equal(up.hits.length + outside.hits.length, 0)
})

test('a pool with no target left: getUpstream is not called, the client gets 503 with Retry-After', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url], healthCheck: false })
  let calls = 0
  app.get('/*', (_req, reply) => reply.from(undefined, { getUpstream: (_r, base) => { calls++; return base } }))
  await app.lolly.removeTarget('default', up.url)
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.equal(res.json().code, 'FST_LOLLY_NO_AVAILABLE_TARGET')
  t.equal(calls, 0)
})

test('no target can take traffic: getUpstream sees a target of the pool, and the request answers 503', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url], healthCheck: false })
  const seen: string[] = []
  app.get('/*', (_req, reply) => reply.from(undefined, { getUpstream: (_r, base) => { seen.push(base); return base } }))
  await app.lolly.disable('default', up.url)
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.same(seen, [up.url])
  t.equal(up.hits.length, 0)
})

test('a hashKey function that throws while getUpstream is shown the pick fails the request (500), however reply.from() was called', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify({ logger: false })
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url], balancer: 'consistent-hash', hashKey: () => { throw new Error('no key') }, healthCheck: false })
  const seen: string[] = []
  const getUpstream = (_r: unknown, base: string) => { seen.push(base); return base }
  app.get('/returned', (_req, reply) => reply.from(undefined, { getUpstream }))
  // Called from a callback, nothing returned: a throw out of reply.from() would be uncaught.
  app.get('/callback', (_req, reply) => { setImmediate(() => reply.from(undefined, { getUpstream, rewriteRequestHeaders: (_r, h) => h })) })
  t.equal((await app.inject('/returned')).statusCode, 500)
  t.equal((await app.inject('/callback')).statusCode, 500)
  t.same(seen, [up.url, up.url], 'getUpstream saw a target of the pool')
  t.equal(up.hits.length, 0)
})
