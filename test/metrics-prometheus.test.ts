import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import client, { Registry } from 'prom-client'
import lolly from '../lib/index.js'
import type { LollyOptions } from '../lib/options/types.js'
import { closedPort, startUpstream, type Upstream, type UpstreamHandler } from './helpers/upstreams.js'
import { parseSamples, sampleValue, type Sample } from './helpers/prometheus-text.js'
import { poolOf } from './helpers/internals.js'

const answer503: UpstreamHandler = (_req, res) => { res.statusCode = 503; res.end('busy') }

async function proxyApp (options: LollyOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(lolly, options)
  app.all('/*', (_req, reply) => reply.from())
  return app
}

async function scrape (registry: Registry): Promise<Sample[]> {
  return parseSamples(await registry.metrics())
}

test('after traffic and failures the scrape counts every try by target and outcome, with its duration', async (t) => {
  const ok = await startUpstream('ok')
  const bad = await startUpstream('bad', answer503)
  const dead = `http://127.0.0.1:${await closedPort()}`
  const registry = new Registry()
  const app = await proxyApp({ targets: [ok.url, bad.url, dead], retry: false, passive: false, metrics: { registry } })
  t.teardown(async () => { await app.close(); await ok.close(); await bad.close() })

  const statuses: number[] = []
  for (let i = 0; i < 6; i++) statuses.push((await app.inject('/x')).statusCode)
  t.same(statuses.sort(), [200, 200, 502, 502, 503, 503], 'round robin: two tries each')

  const samples = await scrape(registry)
  const tries = (target: string, code: string): number | undefined =>
    sampleValue(samples, 'lolly_requests_total', { upstream: 'default', target, code })
  t.equal(tries(ok.url, '200'), 2)
  t.equal(tries(bad.url, '503'), 2)
  t.equal(tries(dead, 'error'), 2, 'a refused connection has no status: code "error"')
  t.equal(tries(ok.url, '503'), undefined, 'no series for outcomes that never happened')

  for (const target of [ok.url, bad.url, dead]) {
    t.equal(sampleValue(samples, 'lolly_request_duration_seconds_count', { target }), 2)
    t.equal(sampleValue(samples, 'lolly_request_duration_seconds_bucket', { target, le: '+Inf' }), 2)
    t.equal(sampleValue(samples, 'lolly_request_duration_seconds_bucket', { target, le: '10' }), 2, 'all well under 10 s')
    t.ok(sampleValue(samples, 'lolly_request_duration_seconds_sum', { target })! > 0)
    t.equal(sampleValue(samples, 'lolly_target_up', { target }), 1)
    t.equal(sampleValue(samples, 'lolly_target_state', { target, state: 'healthy' }), 1)
    t.equal(sampleValue(samples, 'lolly_target_state', { target, state: 'ejected' }), 0)
    t.equal(sampleValue(samples, 'lolly_target_inflight', { target }), 0)
    t.equal(sampleValue(samples, 'lolly_ejections_total', { target }), 0, 'present from the start')
  }
  t.equal(samples.filter((s) => s.name === 'lolly_retries_total').length, 0, 'no retries metric without failover')
  const text = await registry.metrics()
  t.match(text, '# TYPE lolly_request_duration_seconds histogram')
  t.match(text, '# TYPE lolly_requests_total counter')
  t.match(text, '# TYPE lolly_target_up gauge')
})

test('bucket bounds are cumulative and follow the buckets option; the JSON format agrees', async (t) => {
  const slow = await startUpstream('slow', (_req, res) => { setTimeout(() => res.end('late'), 60) })
  const registry = new Registry()
  const app = await proxyApp({ targets: [slow.url], metrics: { registry, buckets: [0.01, 0.05, 5] } })
  t.teardown(async () => { await app.close(); await slow.close() })
  await app.inject('/')
  await app.inject('/')
  const samples = await scrape(registry)
  const bucket = (le: string): number | undefined => sampleValue(samples, 'lolly_request_duration_seconds_bucket', { target: slow.url, le })
  t.same([bucket('0.01'), bucket('0.05'), bucket('5'), bucket('+Inf')], [0, 0, 2, 2])
  t.equal(bucket('0.1'), undefined, 'only the configured bounds')

  const json = await registry.getMetricsAsJSON()
  const histogram = json.find((m) => m.name === 'lolly_request_duration_seconds')!
  t.equal(histogram.type as unknown, 'histogram')
  const count = histogram.values.find((v) => (v as { metricName?: string }).metricName === 'lolly_request_duration_seconds_count')!
  t.same(count.labels, { upstream: 'default', target: slow.url })
  t.equal(count.value, 2)
})

test('failover: each retry is counted by what the failed try got, and both tries by their target', async (t) => {
  const ok = await startUpstream('ok')
  const bad = await startUpstream('bad', answer503)
  const registry = new Registry()
  const app = await proxyApp({ targets: [bad.url, ok.url], passive: false, metrics: { registry } })
  t.teardown(async () => { await app.close(); await ok.close(); await bad.close() })
  for (let i = 0; i < 6; i++) t.equal((await app.inject('/')).statusCode, 200, 'the retry saves it')

  const samples = await scrape(registry)
  t.ok(bad.hits.length >= 3, 'the balancer sent some requests to the bad target first')
  t.equal(sampleValue(samples, 'lolly_retries_total', { upstream: 'default', reason: '503' }), bad.hits.length)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: bad.url, code: '503' }), bad.hits.length)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: ok.url, code: '200' }), 6)
})

test('timeouts and connection errors: counted as such, and named as the reason of the retry they caused', async (t) => {
  const hang = await startUpstream('hang', () => {})
  const ok = await startUpstream('ok')
  const dead = `http://127.0.0.1:${await closedPort()}`
  const registry = new Registry()
  const app = await proxyApp({ targets: [hang.url, dead, ok.url], responseTimeout: 50, passive: false, metrics: { registry } })
  t.teardown(async () => { await app.close(); await ok.close(); await hang.close() })
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/')).statusCode, 200)

  const samples = await scrape(registry)
  const timeouts = sampleValue(samples, 'lolly_requests_total', { target: hang.url, code: 'timeout' })
  const refused = sampleValue(samples, 'lolly_requests_total', { target: dead, code: 'error' })
  t.ok(timeouts! >= 1 && refused! >= 1, 'both failed at least once')
  t.equal(sampleValue(samples, 'lolly_retries_total', { reason: 'UND_ERR_HEADERS_TIMEOUT' }), timeouts)
  t.equal(sampleValue(samples, 'lolly_retries_total', { reason: 'ECONNREFUSED' }), refused)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: ok.url, code: '200' }), 3)
})

test('a passive ejection shows in the state gauges and the ejection counter', async (t) => {
  const ok = await startUpstream('ok')
  const bad = await startUpstream('bad', answer503)
  const registry = new Registry()
  const app = await proxyApp({ targets: [ok.url, bad.url], retry: false, passive: { maxFails: 2 }, metrics: { registry } })
  t.teardown(async () => { await app.close(); await ok.close(); await bad.close() })
  const pool = app.lolly.upstreams.default
  for (let i = 0; i < 8 && pool.targets[1].state !== 'ejected'; i++) await app.inject('/')
  t.equal(pool.targets[1].state, 'ejected')

  const samples = await scrape(registry)
  t.equal(sampleValue(samples, 'lolly_ejections_total', { target: bad.url }), 1)
  t.equal(sampleValue(samples, 'lolly_ejections_total', { target: ok.url }), 0)
  t.equal(sampleValue(samples, 'lolly_target_up', { target: bad.url }), 0)
  t.equal(sampleValue(samples, 'lolly_target_state', { target: bad.url, state: 'ejected' }), 1)
  t.equal(sampleValue(samples, 'lolly_target_state', { target: bad.url, state: 'healthy' }), 0)
  t.equal(samples.filter((s) => s.name === 'lolly_target_state' && s.labels.target === bad.url).length, 5, 'one series per state')
})

test('in-flight requests are read at scrape time', async (t) => {
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const slow: Upstream = await startUpstream('slow', (_req, res) => { held.then(() => res.end('done'), () => {}) })
  const registry = new Registry()
  const app = await proxyApp({ targets: [slow.url], metrics: { registry } })
  t.teardown(async () => { await app.close(); await slow.close() })
  const pending = app.inject('/')
  while (slow.hits.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(sampleValue(await scrape(registry), 'lolly_target_inflight', { target: slow.url }), 1)
  release()
  t.equal((await pending).statusCode, 200)
  t.equal(sampleValue(await scrape(registry), 'lolly_target_inflight', { target: slow.url }), 0)
})

test('metrics: true uses prom-client\'s global registry; close takes the metrics out again', async (t) => {
  const ok = await startUpstream('ok')
  t.teardown(() => ok.close())
  const app = await proxyApp({ targets: [ok.url], metrics: true })
  await app.ready()
  t.ok(client.register.getSingleMetric('lolly_target_up'), 'registered globally')
  await app.close()
  t.equal(client.register.getSingleMetric('lolly_target_up'), undefined, 'removed on close')
  t.equal(client.register.getSingleMetric('lolly_requests_total'), undefined)

  const again = await proxyApp({ targets: [ok.url], metrics: true })
  t.teardown(() => again.close())
  await again.inject('/')
  t.equal(sampleValue(parseSamples(await client.register.metrics()), 'lolly_requests_total', { code: '200' }), 1, 'a new app starts from zero')
})

test('beside other metrics in a user registry, under a prefix; a clash names the metric and the fix', async (t) => {
  const ok = await startUpstream('ok')
  t.teardown(() => ok.close())
  const registry = new Registry()
  const mine = new client.Counter({ name: 'http_requests_total', help: 'the app\'s own', registers: [registry] })
  mine.inc(3)
  const first = await proxyApp({ targets: [ok.url], metrics: { registry, prefix: 'edge_' } })
  await first.inject('/')
  const samples = await scrape(registry)
  t.equal(sampleValue(samples, 'http_requests_total'), 3, 'the registry\'s other metrics are untouched')
  t.equal(sampleValue(samples, 'edge_requests_total', { code: '200' }), 1)
  t.equal(sampleValue(samples, 'lolly_requests_total'), undefined)

  // The user swaps our gauge for one of their own: closing the app leaves theirs alone.
  registry.removeSingleMetric('edge_target_up')
  const theirs = new client.Gauge({ name: 'edge_target_up', help: 'theirs', registers: [registry] })
  await first.close()
  t.equal(registry.getSingleMetric('edge_target_up'), theirs)
  t.equal(registry.getSingleMetric('edge_requests_total'), undefined, 'ours are gone')

  const second = Fastify()
  t.teardown(() => second.close())
  await t.rejects(async () => { await second.register(lolly, { targets: [ok.url], metrics: { registry, prefix: 'edge_' } }) }, {
    code: 'FST_LOLLY_METRIC_EXISTS',
    message: /Metric edge_target_up is already registered: give each fastify-lolly instance sharing a registry its own metrics.prefix/
  })
  t.equal(registry.getSingleMetric('edge_target_inflight'), undefined, 'a clash leaves none of ours behind')
  t.equal(registry.getSingleMetric('edge_requests_total'), undefined)
})

test('bad metrics options fail register naming the path', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['yes', /^metrics must be a boolean or an object, got 'yes'/],
    [{ registry: {} }, /^metrics\.registry must be a prom-client Registry/],
    [{ registry: null }, /^metrics\.registry must be a prom-client Registry, got null/],
    [{ prefix: '9x' }, /^metrics\.prefix must be a Prometheus metric name prefix/],
    [{ prefix: 5 }, /^metrics\.prefix must be a Prometheus metric name prefix/],
    [{ buckets: [] }, /^metrics\.buckets must be an array of 1 to 50/],
    [{ buckets: 'x' }, /^metrics\.buckets must be an array of 1 to 50/],
    [{ buckets: [0.1, 0.1] }, /^metrics\.buckets\[1\] must be a positive number of seconds, above the bucket before it, got 0.1/],
    [{ buckets: [0] }, /^metrics\.buckets\[0\] must be a positive number/],
    [{ buckets: ['1'] }, /^metrics\.buckets\[0\] must be a positive number/],
    [{ regsitry: new Registry() }, /^metrics\.regsitry is not a known option/]
  ]
  for (const [metrics, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(lolly, { targets: ['http://127.0.0.1:1'], metrics } as LollyOptions) }, { code: 'FST_LOLLY_INVALID_OPTION', message }, JSON.stringify(metrics))
    await app.close()
  }
  const off = Fastify()
  await off.register(lolly, { targets: ['http://127.0.0.1:1'], metrics: false })
  t.equal(client.register.getSingleMetric('lolly_target_up'), undefined, 'metrics: false registers nothing')
  await off.close()
})

test('active health checks are counted by target and result, for the pools that have them', async (t) => {
  const ok = await startUpstream('ok')
  const bad = await startUpstream('bad', answer503)
  const plain = await startUpstream('plain')
  const registry = new Registry()
  const app = await proxyApp({
    upstreams: {
      checked: { targets: [ok.url, bad.url], healthCheck: { interval: 100, timeout: 50, jitter: 0, unhealthyThreshold: 10 } },
      unchecked: { targets: [plain.url] }
    },
    metrics: { registry }
  })
  t.teardown(async () => { await app.close(); await ok.close(); await bad.close(); await plain.close() })
  await app.ready()
  const targets = poolOf(app, 'checked').targets
  // Real probes, a few intervals' worth (bounded): both targets must have been probed twice.
  for (let i = 0; i < 40 && targets.some((target) => target.checksPassed + target.checksFailed < 2); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const samples = await scrape(registry)
  const passed = (url: string, result: string) => sampleValue(samples, 'lolly_health_checks_total', { upstream: 'checked', target: url, result })
  t.ok(passed(ok.url, 'pass')! >= 2, 'the healthy target\'s passes')
  t.equal(passed(ok.url, 'fail'), 0)
  t.ok(passed(bad.url, 'fail')! >= 2, 'the failing target\'s failures')
  t.equal(passed(bad.url, 'pass'), 0)
  t.equal(samples.filter((s) => s.name === 'lolly_health_checks_total' && s.labels.upstream === 'unchecked').length, 0, 'no series for a pool without checks')

  const other = new Registry()
  const unchecked = await proxyApp({ targets: [plain.url], metrics: { registry: other } })
  t.teardown(() => unchecked.close())
  t.equal((await scrape(other)).filter((s) => s.name === 'lolly_health_checks_total').length, 0, 'not registered when no pool probes')
})
