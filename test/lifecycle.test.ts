import { test } from 'tap'
import Fastify from 'fastify'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { request } from 'undici'
import lolly from '../lib/index.js'
import { startUpstreams } from './helpers/upstreams.js'

function resourcesOfKind (kinds: string[]): number {
  return process.getActiveResourcesInfo().filter((name) => kinds.includes(name)).length
}

test('after app.close() no socket or timer of ours is left and the upstreams see their connections closed', async (t) => {
  const ups = await startUpstreams(3)
  t.teardown(() => Promise.all(ups.map((u) => u.close())))
  const before = resourcesOfKind(['TCPSocketWrap', 'Timeout'])
  const app = Fastify()
  await app.register(lolly, { targets: ups.map((u) => u.url) })
  app.get('/*', (_req, reply) => reply.from())
  for (let i = 0; i < 6; i++) t.equal((await app.inject('/x')).statusCode, 200)
  let open = 0
  for (const up of ups) up.server.getConnections((_err, n) => { open += n })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(open, 3, 'one keep-alive connection per target while running')
  await app.close()
  await new Promise((resolve) => setTimeout(resolve, 20))
  let still = 0
  for (const up of ups) up.server.getConnections((_err, n) => { still += n })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(still, 0, 'every upstream connection was closed')
  t.equal(resourcesOfKind(['TCPSocketWrap', 'Timeout']), before, 'no socket or timer of ours is left')
})

test('a process that registers, serves and closes exits by itself within a second', async (t) => {
  const script = path.join(__dirname, 'fixtures', 'register-serve-close.js')
  const started = Date.now()
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [script], { timeout: 10_000 }, (err, out) => { if (err) reject(err); else resolve(out) })
  })
  t.equal(stdout, '200 ok\nclosed\n')
  t.ok(Date.now() - started < 5000, 'exited on its own')
})

test('the pool is an undici dispatcher usable outside Fastify, and refuses work once closed', async (t) => {
  const ups = await startUpstreams(2)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: [ups[0].url, `${ups[1].url}/b`] })
  const dispatcher = app.lolly.upstreams.default.dispatcher
  const bodies: string[] = []
  for (let i = 0; i < 2; i++) {
    const res = await request('http://any-origin.invalid/path?q=1', { dispatcher })
    bodies.push(await res.body.text())
  }
  t.same(bodies.sort(), ['u0 GET /path?q=1', 'u1 GET /b/path?q=1'])
  t.equal(ups[1].hits[0].headers.host, `127.0.0.1:${ups[1].port}`)
  await dispatcher.close()
  await t.rejects(request('http://x.invalid/', { dispatcher }), { code: 'FST_LOLLY_POOL_CLOSED' })
  await new Promise<void>((resolve) => dispatcher.close(resolve))
})

test('reply.from() through a closed pool answers 503 FST_LOLLY_POOL_CLOSED, sending nothing', async (t) => {
  const up = await startUpstreams(1)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up[0].close() })
  await app.register(lolly, { targets: [up[0].url] })
  app.get('/*', (_req, reply) => reply.from())
  await app.lolly.upstreams.default.dispatcher.close()
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_LOLLY_POOL_CLOSED')
  t.equal(up[0].hits.length, 0)
})

test('destroy() tears down every target connection at once', async (t) => {
  const ups = await startUpstreams(1)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await ups[0].close() })
  await app.register(lolly, { targets: [ups[0].url] })
  const dispatcher = app.lolly.upstreams.default.dispatcher
  await (await request('http://x.invalid/', { dispatcher })).body.text()
  await dispatcher.destroy()
  await new Promise<void>((resolve) => dispatcher.destroy(resolve))
  await new Promise<void>((resolve) => dispatcher.destroy(null, resolve))
  await dispatcher.destroy(new Error('bye'))
  await t.rejects(request('http://x.invalid/', { dispatcher }), { code: 'FST_LOLLY_POOL_CLOSED' })
})
