import { test } from 'tap'
import { PassThrough } from 'node:stream'
import { buildGateway } from '../lib/cli/gateway.js'
import { inFile, readGatewayConfig, type GatewayConfig } from '../lib/cli/gateway-config.js'
import { hasPrefix, rewritePath } from '../lib/cli/proxy-routes.js'
import { startUpstream, startUpstreams } from './helpers/upstreams.js'

function sink (): PassThrough {
  const stream = new PassThrough()
  stream.resume()
  return stream
}

test('routes: prefix stripped or rewritten, query string kept, the rest to the default route', async (t) => {
  const [api, web] = await startUpstreams(2)
  t.teardown(() => Promise.all([api.close(), web.close()]))
  const config = readGatewayConfig({
    upstreams: { api: { targets: [api.url] }, web: { targets: [web.url] } },
    routes: [
      { prefix: '/api', upstream: 'api', rewritePrefix: '/' },
      { prefix: '/v1', upstream: 'api', rewritePrefix: '/internal/v1' },
      { prefix: '/', upstream: 'web' }
    ],
    logger: { level: 'silent' }
  }, 'routes.yaml')
  const app = await buildGateway(config, sink())
  t.teardown(() => app.close())

  const cases: Array<[string, string]> = [
    ['/api/users?id=1&x=%2F', 'u0 GET /users?id=1&x=%2F'],
    ['/api', 'u0 GET /'],
    ['/api?q=1', 'u0 GET /?q=1'],
    ['/api/', 'u0 GET /'],
    ['/v1/items', 'u0 GET /internal/v1/items'],
    ['/v1', 'u0 GET /internal/v1'],
    ['/v1?a', 'u0 GET /internal/v1?a'],
    ['/apis', 'u1 GET /apis'],
    ['/', 'u1 GET /'],
    ['/page?x=1', 'u1 GET /page?x=1']
  ]
  for (const [url, body] of cases) {
    const res = await app.inject(url)
    t.equal(`${res.statusCode} ${res.body}`, `200 ${body}`, url)
  }
})

test('every method is proxied, and request bodies pass through unparsed', async (t) => {
  const up = await startUpstream('up', (req, res, body) => res.end(`${req.method} ${req.headers['content-type']} ${body}`))
  t.teardown(() => up.close())
  const app = await buildGateway(readGatewayConfig({ targets: [up.url], logger: { level: 'silent' } }, 'f.json'), sink())
  t.teardown(() => app.close())
  const json = await app.inject({ method: 'POST', url: '/x', headers: { 'content-type': 'application/json' }, payload: '{"a": 1,  "b":2}' })
  t.equal(json.body, 'POST application/json {"a": 1,  "b":2}', 'JSON is not re-serialised')
  const form = await app.inject({ method: 'PUT', url: '/x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' })
  t.equal(form.body, 'PUT application/x-www-form-urlencoded a=1')
  const head = await app.inject({ method: 'HEAD', url: '/x' })
  t.equal(head.statusCode, 200)
  t.equal(up.hits.at(-1)!.method, 'HEAD', 'HEAD goes upstream as HEAD')
  t.equal((await app.inject({ method: 'DELETE', url: '/x' })).body, 'DELETE undefined ')
})

test('a route with a balancer of its own', async (t) => {
  const ups = await startUpstreams(3)
  t.teardown(() => Promise.all(ups.map((u) => u.close())))
  const app = await buildGateway(readGatewayConfig({
    targets: ups.map((u) => u.url),
    routes: [{ prefix: '/sticky', balancer: 'consistent-hash', hashKey: 'header:x-user' }, { prefix: '/' }],
    logger: { level: 'silent' }
  }, 'f.json'), sink())
  t.teardown(() => app.close())
  const sticky = new Set<string>()
  for (let i = 0; i < 6; i++) sticky.add((await app.inject({ url: '/sticky/a', headers: { 'x-user': 'ada' } })).body.split(' ')[0])
  t.equal(sticky.size, 1, 'one user, one target')
  const spread = new Set<string>()
  for (let i = 0; i < 6; i++) spread.add((await app.inject('/a')).body.split(' ')[0])
  t.equal(spread.size, 3, 'the other route balances round robin')
})

test('a route takes every setting a plugin route takes: failover and per-try timeouts too', async (t) => {
  // undici checks its timers about every half second: the answer comes well after the timeout can fire.
  const slow = await startUpstream('slow', (_req, res) => { setTimeout(() => res.end('late'), 1200) })
  t.teardown(() => slow.close())
  const config = readGatewayConfig({
    targets: [slow.url],
    routes: [{ prefix: '/quick', responseTimeout: 50, retry: false }, { prefix: '/', bodyTimeout: 1000, retry: { attempts: 1 } }],
    logger: { level: 'silent' }
  }, 'f.yaml')
  t.same(config.routes[0].upstream, { name: 'default', retry: false, responseTimeout: 50 })
  const app = await buildGateway(config, sink())
  t.teardown(() => app.close())
  const quick = await app.inject('/quick/x')
  t.equal(quick.statusCode, 504, 'the route\'s own responseTimeout')
  t.equal((await app.inject('/x')).body, 'late')
  t.throws(() => readGatewayConfig({ targets: [slow.url], routes: [{ prefix: '/a', retry: { attempts: -1 } }] }, 'bad.yaml'),
    { code: 'FST_LOLLY_INVALID_OPTION', message: 'bad.yaml: routes[0].retry.attempts must be an integer from 0 to 100, got -1' })
  t.throws(() => readGatewayConfig({ targets: [slow.url], routes: [{ prefix: '/a', connectTimeout: 5 }] }, 'bad.yaml'),
    { code: 'FST_LOLLY_INVALID_OPTION', message: /^bad\.yaml: routes\[0\]\.connectTimeout is not a known option \(known: prefix, upstream, rewritePrefix, balancer, hashKey, hashBalanceFactor, retry, responseTimeout, bodyTimeout, clientBodyTimeout, websocket, affinity\)/ })
})

test('a raw path that only matches the prefix once decoded is not proxied', async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  const app = await buildGateway(readGatewayConfig({ targets: [up.url], routes: [{ prefix: '/api', rewritePrefix: '/' }], logger: { level: 'silent' } }, 'f.json'), sink())
  t.teardown(() => app.close())
  const res = await app.inject('/%61pi/x')
  t.equal(res.statusCode, 404)
  t.equal(up.hits.length, 0)
})

test('prefix matching and rewriting', (t) => {
  t.ok(hasPrefix('/api', '/api'))
  t.ok(hasPrefix('/api/x', '/api'))
  t.ok(hasPrefix('/api?x', '/api'))
  t.notOk(hasPrefix('/apix', '/api'))
  t.notOk(hasPrefix('/ap', '/api'))
  t.ok(hasPrefix('/x', ''))
  t.notOk(hasPrefix('', ''))
  t.notOk(hasPrefix('http://evil/x', ''), 'absolute-form is not a path under the root')
  t.equal(rewritePath('/api/a/b?c', '/api', ''), '/a/b?c')
  t.equal(rewritePath('/api', '/api', ''), '/')
  t.equal(rewritePath('/api?c', '/api', '/v2'), '/v2?c')
  t.equal(rewritePath('/x', '', '/base'), '/base/x')
  t.end()
})

test('an option only register refuses is reported with the file name', async (t) => {
  const config: GatewayConfig = {
    ...readGatewayConfig({ targets: ['http://127.0.0.1:9'], logger: { level: 'silent' } }, 'late.yaml'),
    plugin: { targets: ['http://127.0.0.1:9'], connections: 0 }
  }
  await t.rejects(buildGateway(config, sink()), { code: 'FST_LOLLY_INVALID_OPTION', message: /^late\.yaml: connections must be an integer from 1/ })
})

test('a route that collides with the status page is reported with the file name', async (t) => {
  const config = readGatewayConfig({ targets: ['http://127.0.0.1:9'], status: true, routes: [{ prefix: '/lolly' }], logger: { level: 'silent' } }, 'clash.yaml')
  await t.rejects(buildGateway(config, sink()), {
    code: 'FST_LOLLY_INVALID_OPTION',
    message: "clash.yaml: routes[0].prefix must be a path the plugin does not serve itself (the status page or metrics are there), got '/lolly'"
  })
  t.match(inFile(new Error('EACCES'), 'f.yaml'), { code: 'FST_LOLLY_CONFIG_FILE', message: 'f.yaml: EACCES' }, 'other errors name the file too')
})

test('trustProxy from the file reaches Fastify: the forwarded chain is kept only when trusted', async (t) => {
  const up = await startUpstream('up', (req, res) => res.end(String(req.headers['x-forwarded-for'])))
  t.teardown(() => up.close())
  const forwardedFor = async (trustProxy: boolean): Promise<string> => {
    const app = await buildGateway(readGatewayConfig({ targets: [up.url], trustProxy, logger: { level: 'silent' } }, 'f.json'), sink())
    t.teardown(() => app.close())
    return (await app.inject({ url: '/', headers: { 'x-forwarded-for': '203.0.113.7' } })).body
  }
  t.equal(await forwardedFor(true), '203.0.113.7, 127.0.0.1')
  t.equal(await forwardedFor(false), '127.0.0.1')
})
