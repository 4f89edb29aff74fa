import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { poolOf } from './helpers/internals.js'

async function registerError (options: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  try {
    await app.register(lolly, options as never)
    await app.ready()
  } catch (err) {
    return err as Error & { code?: string }
  } finally {
    await app.close()
  }
  throw new Error('register did not fail')
}

test('bad options fail register with FST_LOLLY_INVALID_OPTION naming the path and the value', async (t) => {
  const cases: Array<[unknown, string | RegExp]> = [
    [{ upstreams: { api: { targets: ['http://a:1', { url: 'http://b:1', weight: -1 }] } } },
      'upstreams.api.targets[1].weight must be an integer from 1 to 1000000, got -1'],
    [{ targets: ['http://a:1'], helthCheck: true }, /^helthCheck is not a known option/],
    [{ targets: [] }, 'targets must be a non-empty array of targets, got []'],
    [{}, 'targets must be a non-empty array of targets, got undefined'],
    [{ targets: 'http://a:1' }, /^targets must be a non-empty array/],
    [{ targets: [42] }, 'targets[0] must be a URL string or an object with a url, got 42'],
    [{ targets: ['ftp://a:1'] }, "targets[0] must be an http: or https: URL, got 'ftp://a:1'"],
    [{ targets: ['not a url'] }, /^targets\[0\] must be an absolute http: or https: URL/],
    [{ targets: [{ url: 5 }] }, 'targets[0].url must be a URL string, got 5'],
    [{ targets: ['http://user:pw@a:1'] }, /^targets\[0\] must be an origin with an optional path/],
    [{ targets: ['http://a:1/?q=1'] }, /^targets\[0\] must be an origin with an optional path/],
    [{ targets: ['http://a:1#frag'] }, /^targets\[0\] must be an origin with an optional path/],
    [{ targets: ['http://a:1', 'http://a:1/'] }, /^targets\[1\] must be unique within its upstream/],
    [{ targets: [{ url: 'http://a:1', wieght: 2 }] }, /^targets\[0\]\.wieght is not a known option/],
    [{ targets: [{ url: 'http://a:1', backup: 'yes' }] }, "targets[0].backup must be a boolean, got 'yes'"],
    [{ targets: [{ url: 'http://a:1', maxConnections: 1.5 }] }, 'targets[0].maxConnections must be an integer >= 0, got 1.5'],
    [{ targets: ['http://a:1'], balancer: 'fastest' }, /^balancer must be one of 'round-robin', /],
    [{ targets: ['http://a:1'], hashKey: 'header:' }, /^hashKey must be 'ip', 'url', 'header:NAME', 'cookie:NAME' or a function/],
    [{ targets: ['http://a:1'], hashKey: 'query:x' }, /^hashKey must be/],
    [{ targets: ['http://a:1'], balancer: 'ip-hash', hashKey: 'url' }, /^hashKey must be 'ip' \(or absent\) with balancer 'ip-hash'/],
    [{ targets: ['http://a:1'], hashBalanceFactor: 0.5 }, 'hashBalanceFactor must be 0 (off) or a number >= 1, got 0.5'],
    [{ targets: ['http://a:1'], hashBalanceFactor: Infinity }, /^hashBalanceFactor must be a number from 0 to 100/],
    [{ targets: ['http://a:1'], connections: 0 }, 'connections must be an integer from 1 to 65536, got 0'],
    [{ targets: ['http://a:1'], connectTimeout: 0 }, /^connectTimeout must be a positive integer, got 0/],
    [{ targets: ['http://a:1'], responseTimeout: '5s' }, /^responseTimeout must be a positive integer/],
    [{ targets: ['http://a:1'], xForwarded: 1 }, 'xForwarded must be a boolean, got 1'],
    [{ targets: ['http://a:1'], upstreams: { a: { targets: ['http://a:1'] } } }, /^targets and upstreams cannot both be set/],
    [{ upstreams: {} }, /^upstreams must be an object with at least one upstream/],
    [{ upstreams: [] }, /^upstreams must be an object, got \[\]/],
    [{ upstreams: { 'bad name': { targets: ['http://a:1'] } } }, /^upstreams\["bad name"\] must be named with letters/],
    [{ upstreams: { api: 'http://a:1' } }, "upstreams.api must be an object, got 'http://a:1'"],
    [{ upstreams: { api: { targets: ['http://a:1'], xForwarded: false } } }, /^upstreams\.api\.xForwarded is not a known option/],
    [{ upstreams: { api: { targets: ['http://a:1'] } }, defaultUpstream: 'web' }, "defaultUpstream must be the name of an upstream (api), got 'web'"],
    [{ upstreams: { api: { targets: ['http://a:1'] } }, defaultUpstream: '' }, /^defaultUpstream must be a non-empty string/],
    ['http://a:1', /^options must be an object/]
  ]
  for (const [options, message] of cases) {
    const err = await registerError(options)
    t.equal(err.code, 'FST_LOLLY_INVALID_OPTION', `code for ${message}`)
    t.ok(err instanceof TypeError, 'is a TypeError')
    if (typeof message === 'string') t.equal(err.message, message)
    else t.match(err.message, message)
  }
})

test('top-level settings are the defaults of every named upstream, which may override them', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, {
    balancer: 'first',
    connectTimeout: 1234,
    upstreams: {
      api: { targets: ['http://127.0.0.1:1'] },
      auth: { targets: ['http://127.0.0.1:2'], balancer: 'round-robin', connectTimeout: 99 }
    },
    defaultUpstream: 'auth'
  })
  const api = poolOf(app, 'api').config
  const auth = poolOf(app, 'auth').config
  t.equal(api.balancer.name, 'first')
  t.equal(api.connectTimeout, 1234)
  t.equal(auth.balancer.name, 'round-robin')
  t.equal(auth.connectTimeout, 99)
  t.equal(app.lolly.defaultUpstream, 'auth')
})

test('defaults: weight 1, round robin, timeouts far below undici\'s 300 s, TLS verified', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: ['http://127.0.0.1:1/api/'] })
  const config = poolOf(app).config
  t.match(config, {
    balancer: { name: 'round-robin', hashBalanceFactor: 1.25 },
    tlsRejectUnauthorized: true,
    connectTimeout: 2000,
    responseTimeout: 30000,
    bodyTimeout: 30000
  })
  t.match(config.targets[0], { url: 'http://127.0.0.1:1/api', basePath: '/api', weight: 1, backup: false, down: false, maxConnections: 0 })
  t.equal(app.lolly.defaultUpstream, 'default')
})

test('hash keys normalise: header names lower-cased, cookies kept, functions accepted', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const fn = () => 'k'
  await app.register(lolly, {
    upstreams: {
      a: { targets: ['http://127.0.0.1:1'], balancer: 'round-robin', hashKey: 'header:X-User-Id' },
      b: { targets: ['http://127.0.0.1:1'], hashKey: 'cookie:Session' },
      c: { targets: ['http://127.0.0.1:1'], hashKey: fn },
      d: { targets: ['http://127.0.0.1:1'], hashKey: 'url' }
    }
  })
  t.same(poolOf(app, 'a').config.balancer.hashKey, { kind: 'header', name: 'x-user-id' })
  t.same(poolOf(app, 'b').config.balancer.hashKey, { kind: 'cookie', name: 'Session' })
  t.same(poolOf(app, 'c').config.balancer.hashKey, { kind: 'function', fn })
  t.same(poolOf(app, 'd').config.balancer.hashKey, { kind: 'url' })
})
