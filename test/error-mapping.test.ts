import { test } from 'tap'
import net, { type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { closedPort, startUpstream } from './helpers/upstreams.js'

test('connection refused answers 502 FST_LOLLY_BAD_GATEWAY, not reply-from\'s 500', async (t) => {
  const port = await closedPort()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [`http://127.0.0.1:${port}`] })
  app.get('/*', (_req, reply) => reply.from())
  const res = await app.inject('/x')
  t.equal(res.statusCode, 502)
  t.match(res.json(), { code: 'FST_LOLLY_BAD_GATEWAY', statusCode: 502, message: /ECONNREFUSED/ })
  t.equal(app.lolly.targets[0].failures, 1, 'counted as a target failure')
  t.equal(app.lolly.targets[0].inflight, 0)
})

test('a response that does not come in time answers 504 FST_LOLLY_GATEWAY_TIMEOUT', async (t) => {
  const slow = await startUpstream('slow', () => { /* never answers */ })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await slow.close() })
  await app.register(lolly, { targets: [slow.url], responseTimeout: 50 })
  app.get('/*', (_req, reply) => reply.from())
  const res = await app.inject('/x')
  t.equal(res.statusCode, 504)
  t.match(res.json(), { code: 'FST_LOLLY_GATEWAY_TIMEOUT', message: /UND_ERR_HEADERS_TIMEOUT/ })
})

test('a reset before the response answers 502', async (t) => {
  const reset = await startUpstream('reset', (req) => { req.socket.destroy() })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await reset.close() })
  await app.register(lolly, { targets: [reset.url] })
  app.get('/*', (_req, reply) => reply.from())
  const res = await app.inject('/x')
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'FST_LOLLY_BAD_GATEWAY')
})

test('no target can take the request: an immediate 503 with Retry-After and a JSON body', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [{ url: 'http://127.0.0.1:1', down: true }] })
  app.get('/*', (_req, reply) => reply.from())
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.same(res.json(), {
    statusCode: 503,
    code: 'FST_LOLLY_NO_AVAILABLE_TARGET',
    error: 'Service Unavailable',
    message: 'No target of upstream "default" can take the request'
  })
})

test('an upstream\'s own 5xx passes through with its body, and counts as a failure only for 502-504', async (t) => {
  let status = 503
  const up = await startUpstream('up', (_req, res) => { res.statusCode = status; res.end(`status ${status}`) })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/*', (_req, reply) => reply.from())
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'status 503')
  status = 500
  t.equal((await app.inject('/x')).statusCode, 500)
  status = 404
  t.equal((await app.inject('/x')).statusCode, 404)
  t.equal(app.lolly.targets[0].failures, 1, 'only the 503 counted')
})

test('an error reply-from raises itself (an upstream status out of range) reaches the client as reply-from made it', async (t) => {
  const odd = net.createServer((socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok'))
  })
  await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve))
  const app = Fastify()
  t.teardown(async () => { await app.close(); await new Promise((resolve) => odd.close(resolve)) })
  await app.register(lolly, { targets: [`http://127.0.0.1:${(odd.address() as AddressInfo).port}`] })
  app.get('/*', (_req, reply) => reply.from())
  const res = await app.inject('/x')
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'FST_REPLY_FROM_BAD_GATEWAY')
})
