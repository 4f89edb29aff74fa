import { test } from 'tap'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'
import { get, rawRequest } from './helpers/raw-http.js'

// reply-from accepts an absolute source inside its base (`reply.from('http://localhost:PORT/x')`);
// behind a pool, a source whose origin is one of the pool's targets goes to the pool by its path.

test('an absolute source at a target of the pool is balanced over the pool by its path and query', async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })
  await app.register(lolly, { targets: [a.url, b.url], healthCheck: false })
  app.get('/abs', (_req, reply) => reply.from(`${a.url}/x?q=1`))
  app.get('/root', (_req, reply) => reply.from(a.url))
  const bodies = []
  for (let i = 0; i < 4; i++) {
    const res = await app.inject('/abs')
    t.equal(res.statusCode, 200)
    bodies.push(res.body)
  }
  t.same(bodies.sort(), ['a GET /x?q=1', 'a GET /x?q=1', 'b GET /x?q=1', 'b GET /x?q=1'], 'the origin allows the pool, it does not pin its target')
  t.equal((await app.inject('/root')).body.slice(2), 'GET /', 'an origin alone is the root')
})

test('an absolute source below a target\'s base path keeps its path once; another base path, origin or scheme is refused', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [`${up.url}/api`], healthCheck: false })
  app.get('/inside', (_req, reply) => reply.from(`${up.url}/api/users?x=1`))
  app.get('/base', (_req, reply) => reply.from(`${up.url}/api`))
  app.get('/beside', (_req, reply) => reply.from(`${up.url}/apix/users`))
  app.get('/scheme', (_req, reply) => reply.from(`https://127.0.0.1:${up.port}/api/users`))
  app.get('/other-port', (_req, reply) => reply.from('http://127.0.0.1:1/api/users'))
  app.get('/malformed', (_req, reply) => reply.from('http://[::1'))
  t.equal((await app.inject('/inside')).body, 'up GET /api/users?x=1')
  t.equal((await app.inject('/base')).body, 'up GET /api/')
  for (const path of ['/beside', '/scheme', '/other-port', '/malformed']) {
    const res = await app.inject(path)
    t.equal(res.statusCode, 400, `${path} is refused`)
    t.equal(res.json().code, 'FST_LOLLY_BAD_REQUEST_TARGET')
  }
  t.equal(up.hits.length, 2, 'nothing refused reached the target')
})

test('targets sharing an origin under different base paths: a path only one of them holds is taken below it; one both hold is refused', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [`${up.url}/a`, `${up.url}/a/b`], balancer: 'first', healthCheck: false })
  app.get('/one', (_req, reply) => reply.from(`${up.url}/a/x`))
  app.get('/both', (_req, reply) => reply.from(`${up.url}/a/b/c`))
  t.equal((await app.inject('/one')).body, 'up GET /a/x')
  t.equal((await app.inject('/both')).statusCode, 400, 'below /a it is /b/c, below /a/b it is /c: ambiguous')
  await app.lolly.removeTarget('default', `${up.url}/a/b`)
  t.equal((await app.inject('/both')).body, 'up GET /a/b/c', 'once /a/b is gone, /a alone holds it')
  await app.lolly.removeTarget('default', `${up.url}/a`)
  await app.lolly.addTarget('default', `http://127.0.0.1:${up.port}/z`)
  t.equal((await app.inject('/both')).statusCode, 400, 'the origin is still the pool\'s, but no base path holds the path')
})

test('an absolute source with credentials is refused, even at a target of the pool', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url], healthCheck: false })
  app.get('/user', (_req, reply) => reply.from(`http://user@127.0.0.1:${up.port}/x`))
  app.get('/password', (_req, reply) => reply.from(`http://:pw@127.0.0.1:${up.port}/x`))
  t.equal((await app.inject('/user')).statusCode, 400)
  t.equal((await app.inject('/password')).statusCode, 400)
  t.equal(up.hits.length, 0)
})

test('a client\'s absolute-form request target at a target of the pool is proxied by its path', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url], healthCheck: false })
  app.get('/*', (_req, reply) => reply.from())
  // reply-from reads an empty source as the request's URL too.
  app.get('/empty/*', (_req, reply) => reply.from(''))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const res = await rawRequest(port, get(`${up.url}/x?y=2`))
  t.equal(res.status, 200)
  t.equal(res.body, 'up GET /x?y=2')
  t.equal(up.hits[0].headers.host, `127.0.0.1:${up.port}`)
  t.equal((await rawRequest(port, get(`${up.url}/empty/y`))).body, 'up GET /empty/y')
})
