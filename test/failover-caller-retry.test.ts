import { test } from 'tap'
import http from 'node:http'
import Fastify from 'fastify'
import { request } from 'undici'
import lolly from '../lib/index.js'
import { startUpstream, type UpstreamHandler } from './helpers/upstreams.js'
import { inflight } from './helpers/gateway.js'

// reply.from()'s own `retryDelay` sends the same request through the pool again once it settled.
// That is the caller's retry: it goes to a target the request has not tried while there is one,
// and back to one it tried when there is not, rather than failing with "no target".

const busy: UpstreamHandler = (_req, res) => { res.statusCode = 503; res.end('busy') }

test('a caller\'s retry prefers an untried target, then goes back to a tried one', async (t) => {
  const a = await startUpstream('a', busy)
  const b = await startUpstream('b', busy)
  const app = Fastify()
  await app.register(lolly, { targets: [a.url, b.url], balancer: 'first', retry: false, passive: false })
  const attempts: number[] = []
  app.get('/*', (_req, reply) => reply.from(undefined, {
    retryDelay: ({ attempt }) => { attempts.push(attempt); return attempt < 2 ? 1 : null }
  }))
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })

  let tries: unknown[] = []
  app.addHook('onResponse', async (request) => { tries = request.lolly!.tries.map((one) => [one.target, one.status]) })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'busy')
  t.same(attempts, [0, 1, 2], 'the caller retried twice')
  t.same(tries, [[a.url, 503], [b.url, 503], [a.url, 503]])
})

test('a caller\'s retry that comes while the answer\'s body still streams runs on its own: no crossed bodies, nothing left in flight', async (t) => {
  let sent = 0
  const slow = await startUpstream('slow', (_req, res) => {
    sent++
    if (sent <= 2) {
      // The first two answers: headers now, the rest of the body later. reply-from retries on the headers.
      res.writeHead(503, { 'content-type': 'text/plain' })
      res.write(`busy ${sent} `)
      setTimeout(() => res.end('done'), 100)
      return
    }
    res.end('fine')
  })
  const app = Fastify()
  await app.register(lolly, { targets: [slow.url], retry: false, passive: false })
  app.get('/*', (_req, reply) => reply.from(undefined, { retryDelay: ({ attempt }) => attempt < 2 ? 1 : null }))
  t.teardown(async () => { await app.close(); await slow.close() })

  let tries: unknown[] = []
  app.addHook('onResponse', async (request) => { tries = request.lolly!.tries.map((one) => one.status) })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'fine', 'the third answer, whole, and nothing of the first two')
  t.equal(slow.hits.length, 3)
  const target = () => app.lolly.upstreams.default.targets[0]
  const deadline = Date.now() + 3000
  while (target().inflight !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(target().inflight, 0, 'the streaming answers the caller left ended their tries')
  t.equal(inflight(app), 0)
  t.same(tries, [503, 503, 200], 'one list of tries for the request')
})

test('an answer a caller\'s retry replaced is let go of once the response is sent, however large its body', async (t) => {
  // Far more than undici buffers for a body nobody reads: it stops reading and waits.
  const large = await startUpstream('large', (_req, res) => { res.statusCode = 503; res.end(Buffer.alloc(4 * 1024 * 1024)) })
  const fine = await startUpstream('fine')
  const app = Fastify()
  await app.register(lolly, { targets: [large.url, fine.url], balancer: 'first', passive: false, retry: { on: ['connect-error'] } })
  app.get('/*', (_req, reply) => reply.from(undefined, { retryDelay: ({ attempt }) => attempt < 1 ? 1 : null }))
  t.teardown(async () => { await app.close(); await large.close(); await fine.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await request(`${app.listeningOrigin}/x`)
  t.equal(await res.body.text(), 'fine GET /x')
  const deadline = Date.now() + 3000
  while (inflight(app) !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(inflight(app), 0, 'the replaced answer\'s try ended')
})

test('a caller\'s retry goes back to a tried target for its first pick only, not for the failover inside it', async (t) => {
  const busy = await startUpstream('busy', (_req, res) => { res.statusCode = 503; res.end('busy') })
  const app = Fastify()
  await app.register(lolly, { targets: [busy.url], passive: false })
  app.get('/*', (_req, reply) => reply.from(undefined, { retryDelay: ({ attempt }) => attempt < 1 ? 1 : null }))
  t.teardown(async () => { await app.close(); await busy.close() })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(busy.hits.length, 2, 'once per send: the pool\'s own failover has no other target')
})

test('after the client left, a caller\'s retry sends nothing', async (t) => {
  const hang = await startUpstream('hang', () => {})
  const app = Fastify()
  await app.register(lolly, { targets: [hang.url], passive: false })
  const attempts: number[] = []
  app.get('/*', (_req, reply) => reply.from(undefined, {
    retryDelay: ({ attempt }) => { attempts.push(attempt); return attempt < 3 ? 1 : null }
  }))
  t.teardown(async () => { await app.close(); await hang.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const req = http.get({ port, host: '127.0.0.1', path: '/x', agent: false })
  req.on('error', () => {})
  while (hang.hits.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  req.destroy()
  const deadline = Date.now() + 3000
  while (attempts.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.same(attempts, [0, 1, 2, 3], 'the caller retried')
  t.equal(hang.hits.length, 1, 'but nothing more reached the target')
  t.same(app.lolly.upstreams.default.targets.map((one) => [one.inflight, one.requests]), [[0, 1]])
})
