import { createHash } from 'node:crypto'
import os from 'node:os'
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import lolly from '../lib/index.js'
import type { LollyOptions } from '../lib/options/types.js'
import { isLoopback } from '../lib/status/access-guard.js'
import type { StatusView } from '../lib/status/status-view.js'
import { startUpstreams } from './helpers/upstreams.js'

/** An address of this host that is not loopback: connecting to it makes the peer address non-loopback too. */
const externalAddress = Object.values(os.networkInterfaces()).flat()
  .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address

async function serve (options: LollyOptions, host = '127.0.0.1', fastifyOptions = {}): Promise<{ app: FastifyInstance, base: string }> {
  const app = Fastify(fastifyOptions)
  await app.register(lolly, options)
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host })
  const port = (app.server.address() as { port: number }).port
  return { app, base: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}` }
}

test('targets.json has every target of every upstream, grouped, over real HTTP', async (t) => {
  const ups = await startUpstreams(3)
  const { app, base } = await serve({
    upstreams: {
      api: { targets: [ups[0].url, { url: ups[1].url, weight: 3 }], balancer: 'least-connections' },
      static: { targets: [{ url: ups[2].url, backup: true }], healthCheck: { interval: 60_000 } }
    },
    status: true
  })
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  app.lolly.disable('static', ups[2].url)

  const res = await request(`${base}/lolly/targets.json`)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const view = await res.body.json() as StatusView
  t.ok(Math.abs(view.at - Date.now()) < 5000, 'server time')
  t.equal(view.defaultUpstream, 'api')
  t.same(view.upstreams.map((u) => [u.name, u.balancer, u.panicking, u.checkInterval]),
    [['api', 'least-connections', false, null], ['static', 'round-robin', false, 60_000]])
  t.same(view.upstreams[0].targets.map((s) => [s.url, s.upstream, s.state, s.weight]),
    [[ups[0].url, 'api', 'healthy', 1], [ups[1].url, 'api', 'healthy', 3]])
  t.match(view.upstreams[1].targets[0], { url: ups[2].url, upstream: 'static', state: 'disabled', backup: true, lastCheck: null })
})

test('the page is one self-contained document whose CSP allows exactly its own script and style', async (t) => {
  const ups = await startUpstreams(1)
  const { app, base } = await serve({ targets: [ups[0].url], status: { path: '/admin/upstreams' } })
  t.teardown(async () => { await app.close(); await ups[0].close() })

  const res = await request(`${base}/admin/upstreams`)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  const html = await res.body.text()
  t.match(html, '<html lang="en" data-base="/admin/upstreams" data-history="100">')
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1])
  const script = scripts.join('\n')
  const style = /<style>([\s\S]*)<\/style>/.exec(html)![1]
  const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
  const csp = res.headers['content-security-policy'] as string
  t.equal(scripts.length, 3, 'the page, its sources\' lines and its change log; no buttons without a guard')
  t.match(csp, `script-src ${scripts.map(hash).join(' ')};`)
  t.match(csp, `style-src ${hash(style)};`)
  t.match(csp, "default-src 'none'")
  t.match(csp, "connect-src 'self'")
  t.notMatch(html, /(src|href)="(?!data:)/, 'nothing loaded from elsewhere')
  t.notMatch(script, /innerHTML/, 'the script builds the page with DOM calls only')

  t.equal((await request(`${base}/admin/upstreams/targets.json`)).statusCode, 200, 'JSON under the same path')
  t.equal(await (await request(`${base}/lolly`)).body.text(), 'u0 GET /lolly', 'the default path is proxied like any other URL')
})

test('the status page is never on by default', async (t) => {
  const app = Fastify()
  await app.register(lolly, { targets: ['http://127.0.0.1:1'] })
  t.teardown(() => app.close())
  t.equal((await app.inject('/lolly/targets.json')).statusCode, 404)
  t.equal((await app.inject('/lolly')).statusCode, 404)
})

test('without a guard only loopback clients are served, whatever X-Forwarded-For says', { skip: externalAddress === undefined && 'this host has no non-loopback IPv4 address to connect from' }, async (t) => {
  const ups = await startUpstreams(1)
  const { app } = await serve({ targets: [ups[0].url], status: true }, '0.0.0.0', { trustProxy: true })
  t.teardown(async () => { await app.close(); await ups[0].close() })
  const port = (app.server.address() as { port: number }).port
  const external = `http://${externalAddress!}:${port}`
  const loopback = `http://127.0.0.1:${port}`

  for (const path of ['/lolly', '/lolly/targets.json', '/lolly/events']) {
    const res = await request(`${external}${path}`, { headers: { 'x-forwarded-for': '127.0.0.1' } })
    t.equal(res.statusCode, 403, `${path} refused from ${externalAddress!}`)
    t.match(await res.body.json(), { code: 'FST_LOLLY_STATUS_FORBIDDEN', message: /loopback clients only; set status.onRequest/ })
  }
  const res = await request(`${loopback}/lolly/targets.json`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
  t.equal(res.statusCode, 200, 'a loopback peer is served, even claiming to forward for someone else')
  await res.body.dump()
})

test('an onRequest guard decides instead, for every status route', async (t) => {
  const ups = await startUpstreams(1)
  const { app } = await serve({
    targets: [ups[0].url],
    status: {
      async onRequest (request, reply) {
        if (request.headers.authorization !== 'Bearer s3cret') await reply.code(401).send({ error: 'who are you' })
      }
    }
  }, '0.0.0.0')
  t.teardown(async () => { await app.close(); await ups[0].close() })
  const port = (app.server.address() as { port: number }).port
  const host = externalAddress ?? '127.0.0.1'

  for (const path of ['/lolly', '/lolly/targets.json', '/lolly/events']) {
    const res = await request(`http://127.0.0.1:${port}${path}`)
    t.equal(res.statusCode, 401, `${path} refused even to loopback without the token`)
    await res.body.dump()
  }
  const res = await request(`http://${host}:${port}/lolly/targets.json`, { headers: { authorization: 'Bearer s3cret' } })
  t.equal(res.statusCode, 200, `served to ${host} with the token`)
  await res.body.dump()
})

test('which peer addresses count as loopback', async (t) => {
  for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) t.ok(isLoopback(address), address)
  for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '::2', '1.127.0.0', 'fe80::1', '']) t.notOk(isLoopback(address), address)
  t.notOk(isLoopback(undefined), 'a destroyed socket has no address')
})

test('bad status options fail register naming the path', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['on', /^status must be a boolean or an object, got 'on'/],
    [{ path: 'lolly' }, /^status\.path must be an absolute path without a trailing slash/],
    [{ path: '/lolly/' }, /^status\.path must be/],
    [{ path: '/a/../b' }, /^status\.path must be/],
    [{ path: '/a b' }, /^status\.path must be/],
    [{ path: '/' + 'x'.repeat(200) }, /^status\.path must be/],
    [{ path: 7 }, /^status\.path must be/],
    [{ onRequest: 'admin' }, /^status\.onRequest must be a Fastify onRequest hook function, got 'admin'/],
    [{ guard: () => {} }, /^status\.guard is not a known option \(known: path, onRequest, actions, history\)/],
    [{ actions: 'yes' }, /^status\.actions must be a boolean, got 'yes'/],
    [{ history: -1 }, /^status\.history must be an integer from 0 to 1000, got -1/],
    [{ history: 1_001 }, /^status\.history must be an integer from 0 to 1000, got 1001/],
    [{ history: 1.5 }, /^status\.history must be an integer/]
  ]
  for (const [status, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(lolly, { targets: ['http://127.0.0.1:1'], status } as LollyOptions) },
      { code: 'FST_LOLLY_INVALID_OPTION', message }, JSON.stringify(status))
    await app.close()
  }
  const app = Fastify()
  await app.register(lolly, { targets: ['http://127.0.0.1:1'], status: false })
  t.equal((await app.inject('/lolly')).statusCode, 404, 'status: false is off')
  await app.close()
})
