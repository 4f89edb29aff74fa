import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'

test('routes pick their upstream through config.upstream; others use the default', async (t) => {
  const api = await startUpstream('api')
  const auth = await startUpstream('auth')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await api.close(); await auth.close() })
  await app.register(lolly, {
    upstreams: { api: { targets: [api.url] }, auth: { targets: [`${auth.url}/v1`] } },
    defaultUpstream: 'api'
  })
  app.get('/*', (_req, reply) => reply.from())
  app.all('/auth/*', { config: { upstream: 'auth' } }, (req, reply) => reply.from(req.url.slice(5)))
  app.get('/u/*', { config: { upstream: { name: 'api', balancer: 'round-robin', hashBalanceFactor: 2 } } }, (_req, reply) => reply.from())
  app.get('/obj', { config: { upstream: { name: 'auth' } } }, (_req, reply) => reply.from())
  app.get('/default-obj', { config: { upstream: { balancer: 'round-robin' } } }, (_req, reply) => reply.from())

  t.equal((await app.inject('/x')).body, 'api GET /x')
  t.equal((await app.inject({ method: 'POST', url: '/auth/login' })).body, 'auth POST /v1/login')
  t.equal((await app.inject('/u/1')).body, 'api GET /u/1')
  t.equal((await app.inject('/obj')).body, 'auth GET /v1/obj')
  t.equal((await app.inject('/default-obj')).body, 'api GET /default-obj')
  t.same(app.lolly.upstreams.auth.targets.map((s) => s.url), [`${auth.url}/v1`])
  t.same(app.lolly.targets.map((s) => s.upstream), ['api', 'auth'])
})

test('request.lolly tells the route which upstream and targets were tried', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  let seen: unknown
  app.get('/*', {
    onResponse: async (request) => { seen = { upstream: request.lolly?.upstream, tries: request.lolly?.tries } }
  }, (request, reply) => {
    t.equal(request.lolly, null, 'null before reply.from()')
    return reply.from()
  })
  await app.inject('/x')
  t.match(seen, { upstream: 'default', tries: [{ target: up.url, status: 200, durationMs: Number }] })
})

test('reply.from() in the not-found handler goes to the default upstream', async (t) => {
  const api = await startUpstream('api')
  const auth = await startUpstream('auth')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await api.close(); await auth.close() })
  await app.register(lolly, { upstreams: { auth: { targets: [auth.url] }, api: { targets: [api.url] } }, defaultUpstream: 'api' })
  app.setNotFoundHandler((_req, reply) => reply.from())
  t.equal((await app.inject('/anything')).body, 'api GET /anything')
})

test("reply.from() in one of a route's hooks goes where the route says", async (t) => {
  const api = await startUpstream('api')
  const auth = await startUpstream('auth')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await api.close(); await auth.close() })
  await app.register(lolly, { upstreams: { api: { targets: [api.url] }, auth: { targets: [auth.url] } } })
  app.get('/early', {
    config: { upstream: 'auth' },
    preHandler: async (_req, reply) => reply.from()
  }, async () => 'the handler never runs')
  t.equal((await app.inject('/early')).body, 'auth GET /early')
})

test('a route naming an unknown upstream or a bad policy fails at startup', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['nope', /^route GET \/x: config\.upstream names upstream "nope", which does not exist \(known: default\)/],
    [{ name: 'nope' }, /names upstream "nope"/],
    [{ name: 1 }, /names upstream 1, which does not exist/],
    [{ balancer: 'fastest' }, /^route GET \/x: config\.upstream\.balancer must be one of/],
    [{ nmae: 'default' }, /^route GET \/x: config\.upstream\.nmae is not a known option/],
    [42, /^route GET \/x: config\.upstream must be an upstream name or an object/]
  ]
  for (const [upstream, message] of cases) {
    const app = Fastify()
    await app.register(lolly, { targets: ['http://127.0.0.1:1'] })
    const err = await (async () => {
      try {
        app.get('/x', { config: { upstream: upstream as never } }, (_req, reply) => reply.from())
        await app.ready()
      } catch (err) {
        return err as Error & { code: string }
      } finally {
        await app.close()
      }
    })()
    t.equal(err?.code, 'FST_LOLLY_INVALID_OPTION')
    t.match(err?.message, message)
  }
})

test('routes added before the plugin (register not awaited) are bound at their first reply.from(), to the upstream they name', async (t) => {
  const api = await startUpstream('api')
  const auth = await startUpstream('auth')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await api.close(); await auth.close() })
  app.register(async (child) => {
    child.get('/early', (_req, reply) => reply.from())
    child.get('/early-auth', { config: { upstream: 'auth' } }, (_req, reply) => reply.from('/x'))
    child.get('/early-hook', { config: { upstream: 'auth' }, preHandler: (_req, reply, done) => { reply.from('/h'); done() } }, () => {})
    child.get('/early-bad', { config: { upstream: 'nope' } }, (_req, reply) => reply.from())
  })
  await app.register(lolly, { upstreams: { api: { targets: [api.url] }, auth: { targets: [auth.url] } }, healthCheck: false })
  for (let i = 0; i < 2; i++) {
    t.equal((await app.inject('/early')).body, 'api GET /early', 'the default upstream')
    t.equal((await app.inject('/early-auth')).body, 'auth GET /x', 'the upstream the route names')
    t.equal((await app.inject('/early-hook')).body, 'auth GET /h', 'from a hook of the route too')
  }
  const bad = await app.inject('/early-bad')
  t.equal(bad.statusCode, 500)
  t.match(bad.json(), { code: 'FST_LOLLY_INVALID_OPTION', message: /route GET \/early-bad: config.upstream names upstream "nope", which does not exist/ })
})

test('the common form: app.register(lolly) not awaited, then routes', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  app.register(lolly, { targets: [up.url], healthCheck: false })
  app.get('/*', (_req, reply) => reply.from())
  t.equal((await app.inject('/a')).body, 'up GET /a')
})
