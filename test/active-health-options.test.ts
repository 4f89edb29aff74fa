import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import type { LollyOptions } from '../lib/options/types.js'

const { version } = require('../package.json') as { version: string }
const url = 'http://127.0.0.1:3000'

function checkOf (options: Record<string, unknown>, upstream = 'default') {
  return readPluginOptions(options).upstreams.get(upstream)!.healthCheck
}

test('off unless configured; true gives every default', async (t) => {
  t.equal(checkOf({ targets: [url] }), null)
  t.equal(checkOf({ targets: [url], healthCheck: false }), null)
  t.same(checkOf({ targets: [url], healthCheck: true }), {
    path: '/health',
    method: 'GET',
    headers: { 'user-agent': `fastify-lolly-health/${version}` },
    port: null,
    expectStatus: [{ from: 200, to: 299 }],
    expectBody: null,
    maxBodyBytes: 65536,
    interval: 10_000,
    timeout: 5_000,
    unhealthyInterval: 10_000,
    jitter: 0.1,
    concurrency: 16,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    initialState: 'healthy'
  })
})

test('every option is read; header names are lower-cased; a RegExp loses its g and y flags', async (t) => {
  const check = checkOf({
    targets: [url],
    healthCheck: {
      path: '/ready?deep=1',
      method: 'GET',
      headers: { 'X-Probe': 'yes', Authorization: 'Bearer t' },
      port: 8081,
      expect: { status: [200, '300-302', '4xx', '503'], body: /ok/gyi },
      maxBodyBytes: 1024,
      interval: 3000,
      timeout: 1000,
      unhealthyInterval: 30_000,
      jitter: 0,
      concurrency: 4,
      healthyThreshold: 5,
      unhealthyThreshold: 1,
      initialState: 'unhealthy'
    }
  })!
  t.match(check, {
    path: '/ready?deep=1',
    headers: { 'x-probe': 'yes', authorization: 'Bearer t', 'user-agent': `fastify-lolly-health/${version}` },
    port: 8081,
    expectStatus: [{ from: 200, to: 200 }, { from: 300, to: 302 }, { from: 400, to: 499 }, { from: 503, to: 503 }],
    maxBodyBytes: 1024,
    interval: 3000,
    timeout: 1000,
    unhealthyInterval: 30_000,
    jitter: 0,
    concurrency: 4,
    healthyThreshold: 5,
    unhealthyThreshold: 1,
    initialState: 'unhealthy'
  })
  t.equal(String(check.expectBody), '/ok/i')
  t.equal(checkOf({ targets: [url], healthCheck: { expect: { body: 'up' } } })!.expectBody, 'up')
  t.equal(checkOf({ targets: [url], healthCheck: { headers: { 'user-agent': 'mine' } } })!.headers['user-agent'], 'mine')
})

test('the default timeout fits short intervals: 5 s or half the shorter interval', async (t) => {
  t.match(checkOf({ targets: [url], healthCheck: { interval: 2000 } }), { timeout: 1000, unhealthyInterval: 2000 })
  t.match(checkOf({ targets: [url], healthCheck: { unhealthyInterval: 3000 } }), { timeout: 1500, interval: 10_000 })
})

test('an upstream inherits the top-level check and overrides it key by key', async (t) => {
  const options = readPluginOptions({
    healthCheck: { path: '/status', interval: 2000, headers: { 'x-a': '1' }, expect: { status: [200] } },
    upstreams: {
      same: { targets: [url] },
      on: { targets: [url], healthCheck: true },
      off: { targets: [url], healthCheck: false },
      tuned: { targets: [url], healthCheck: { interval: 4000, headers: { 'x-b': '2' }, expect: { body: 'ok' } } }
    }
  })
  const check = (name: string) => options.upstreams.get(name)!.healthCheck
  t.match(check('same'), { path: '/status', interval: 2000, timeout: 1000 })
  t.equal(check('on'), check('same'), 'true keeps the inherited settings')
  t.equal(check('off'), null)
  t.match(check('tuned'), {
    path: '/status',
    interval: 4000,
    unhealthyInterval: 4000,
    timeout: 2000,
    expectStatus: [{ from: 200, to: 200 }],
    expectBody: 'ok'
  }, 'defaults that follow another key follow the merged value; expect merges key by key')
  t.same(Object.keys(check('tuned')!.headers), ['x-b', 'user-agent'], 'headers are replaced as a whole')
})

test('an upstream can turn checks on when the top level turned them off', async (t) => {
  const options = readPluginOptions({ healthCheck: false, upstreams: { a: { targets: [url], healthCheck: true } } })
  t.match(options.upstreams.get('a')!.healthCheck, { path: '/health', interval: 10_000 })
})

test('a bad option names its path and value', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    ['yes', /^healthCheck must be a boolean or an object, got 'yes'$/],
    [{ intervall: 1000 }, /^healthCheck\.intervall is not a known option/],
    [{ timeout: 10_000 }, /^healthCheck\.timeout must be below healthCheck\.interval, got 10000 \(interval 10000\)$/],
    [{ unhealthyInterval: 2000, timeout: 3000 }, /^healthCheck\.timeout must be below healthCheck\.unhealthyInterval/],
    [{ interval: 5 }, /^healthCheck\.interval must be an integer >= 10, got 5$/],
    [{ timeout: 0 }, /^healthCheck\.timeout must be a positive integer, got 0$/],
    [{ method: 'POST' }, /^healthCheck\.method must be one of 'GET', 'HEAD', got 'POST'$/],
    [{ method: 'HEAD', expect: { body: 'ok' } }, /^healthCheck\.expect\.body cannot be used with healthCheck\.method 'HEAD'/],
    [{ path: 'health' }, /^healthCheck\.path must be a path starting with '\/'/],
    [{ path: '/a b' }, /^healthCheck\.path must be/],
    [{ path: '/a#b' }, /^healthCheck\.path must be/],
    [{ path: '/a\r\nX: y' }, /^healthCheck\.path must be/],
    [{ headers: ['x'] }, /^healthCheck\.headers must be an object of header names to string values/],
    [{ headers: { 'bad name': 'x' } }, /^healthCheck\.headers\["bad name"\] must be named by an HTTP token/],
    [{ headers: { Connection: 'close' } }, /^healthCheck\.headers\["Connection"\] must be a header the HTTP client does not manage itself/],
    [{ headers: { 'X-A': '1', 'x-a': '2' } }, /^healthCheck\.headers\["x-a"\] must be set once/],
    [{ headers: { 'x-a': 'v\r\nx-b: 1' } }, /^healthCheck\.headers\["x-a"\] must be a string without CR, LF or NUL/],
    [{ headers: { 'x-a': 1 } }, /^healthCheck\.headers\["x-a"\] must be a string/],
    [{ port: 0 }, /^healthCheck\.port must be an integer from 1 to 65535, got 0$/],
    [{ port: 70_000 }, /^healthCheck\.port must be an integer from 1 to 65535/],
    [{ expect: 200 }, /^healthCheck\.expect must be an object \{ status, body \}, got 200$/],
    [{ expect: { headers: {} } }, /^healthCheck\.expect\.headers is not a known option/],
    [{ expect: { status: 200 } }, /^healthCheck\.expect\.status must be a non-empty array/],
    [{ expect: { status: [] } }, /^healthCheck\.expect\.status must be a non-empty array/],
    [{ expect: { status: [200, 99] } }, /^healthCheck\.expect\.status\[1\] must be a status from 100 to 599, a range 'from-to' or a class '2xx', got 99$/],
    [{ expect: { status: ['600'] } }, /^healthCheck\.expect\.status\[0\] must be a status/],
    [{ expect: { status: ['400-300'] } }, /^healthCheck\.expect\.status\[0\] must be a status/],
    [{ expect: { status: ['6xx'] } }, /^healthCheck\.expect\.status\[0\] must be a status/],
    [{ expect: { status: [200.5] } }, /^healthCheck\.expect\.status\[0\] must be a status/],
    [{ expect: { status: ['ok'] } }, /^healthCheck\.expect\.status\[0\] must be a status/],
    [{ expect: { status: [null] } }, /^healthCheck\.expect\.status\[0\] must be a status/],
    [{ expect: { body: '' } }, /^healthCheck\.expect\.body must be a non-empty string or a RegExp/],
    [{ expect: { body: 42 } }, /^healthCheck\.expect\.body must be a non-empty string or a RegExp/],
    [{ maxBodyBytes: 0 }, /^healthCheck\.maxBodyBytes must be an integer from 1 to 16777216/],
    [{ jitter: 1.5 }, /^healthCheck\.jitter must be a number from 0 to 1, got 1\.5$/],
    [{ concurrency: 0 }, /^healthCheck\.concurrency must be an integer from 1 to 1024/],
    [{ healthyThreshold: 0 }, /^healthCheck\.healthyThreshold must be an integer from 1 to 1000/],
    [{ unhealthyThreshold: 1.5 }, /^healthCheck\.unhealthyThreshold must be an integer from 1 to 1000/],
    [{ initialState: 'down' }, /^healthCheck\.initialState must be one of 'healthy', 'unhealthy', got 'down'$/]
  ]
  for (const [healthCheck, message] of bad) {
    t.throws(() => readPluginOptions({ targets: [url], healthCheck }), { code: 'FST_LOLLY_INVALID_OPTION', message }, message.source)
  }
})

test('a conflict that only the merge creates names the upstream', async (t) => {
  t.throws(() => readPluginOptions({
    healthCheck: { timeout: 3000 },
    upstreams: { api: { targets: [url], healthCheck: { interval: 2000 } } }
  }), { message: /^upstreams\.api\.healthCheck\.timeout must be below upstreams\.api\.healthCheck\.interval, got 3000 \(interval 2000\)$/ })
  t.throws(() => readPluginOptions({ upstreams: { api: { targets: [url], healthCheck: { expect: [] } } } }),
    { message: /^upstreams\.api\.healthCheck\.expect must be an object/ })
})

test('register fails with the validation error', async (t) => {
  const app = Fastify()
  const options = { targets: [url], healthCheck: { timeout: 20_000 } } as LollyOptions
  await t.rejects(async () => { await app.register(lolly, options) }, { code: 'FST_LOLLY_INVALID_OPTION', message: /healthCheck\.timeout must be below healthCheck\.interval/ })
})
