import { test } from 'tap'
import Fastify from 'fastify'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import FastifyOtelInstrumentation from '@fastify/otel'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import { request } from 'undici'
import lolly from '../lib/index.js'
import { registerSdk, traceparentOf } from './helpers/otel-sdk.js'
import { installClock, waitFor } from './helpers/health-clock.js'
import { closedPort, startUpstream } from './helpers/upstreams.js'

// With @opentelemetry/instrumentation-undici registered next to fastify-lolly: one client span per
// try (ours), never a second one from undici's instrumentation for the same request, and none for
// health probes unless `tracing.probes` asks for ours.

const sdk = registerSdk()
const undici = new UndiciInstrumentation()
undici.enable()

test('instrumentation-undici: its spans for the app\'s own requests, none for a proxied try (one traceparent, ours), queued tries included', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const up = await startUpstream('up', (req, res) => {
    if (req.url === '/held') held.then(() => res.end('late'), () => {})
    else res.end('up')
  })
  const app = Fastify()
  await app.register(new FastifyOtelInstrumentation().plugin())
  // One connection: the second and third tries wait in undici's queue, created when the first ends.
  await app.register(lolly, { targets: [up.url], connections: 1 })
  app.get('/direct', async () => (await request(`${up.url}/direct`)).body.text())
  app.get('/*', (_req, reply) => reply.from())
  t.teardown(async () => { await app.close(); await up.close() })

  t.equal((await app.inject('/direct')).body, 'up')
  const [own] = sdk.clientSpans()
  t.equal(own.instrumentationScope.name, '@opentelemetry/instrumentation-undici', 'the instrumentation is live')
  t.equal(up.hits[0].headers.traceparent, traceparentOf(own))
  sdk.exporter.reset()

  const answers = Promise.all([app.inject('/held'), app.inject('/a'), app.inject('/b')])
  await waitFor(() => up.hits.length === 2, 'the first proxied request')
  release()
  t.same((await answers).map((res) => res.statusCode), [200, 200, 200])
  const clients = sdk.clientSpans()
  t.same(clients.map((span) => span.instrumentationScope.name), ['fastify-lolly', 'fastify-lolly', 'fastify-lolly'], 'one client span per try, ours')
  for (const hit of up.hits.slice(1)) {
    const span = clients.find((one) => one.attributes['url.full'] === `${up.url}${hit.url}`)!
    t.equal(hit.headers.traceparent, traceparentOf(span), `${hit.url}: one traceparent, the try's`)
  }
  sdk.exporter.reset()
})

test('probes are not traced by default, by undici\'s instrumentation either', async (t) => {
  const up = await startUpstream('up')
  const clock = installClock()
  const app = Fastify()
  await app.register(lolly, { targets: [up.url], healthCheck: { interval: 1000, timeout: 300, jitter: 0 } })
  t.teardown(async () => { await app.close(); clock.uninstall(); await up.close() })
  await app.ready()
  await clock.tickAsync(0)
  await waitFor(() => app.lolly.targets[0].lastCheck !== null, 'the first probe')
  t.equal(up.hits.length, 1)
  t.equal(up.hits[0].headers.traceparent, undefined)
  t.same(sdk.exporter.getFinishedSpans(), [])
})

test('tracing.probes: each probe a root client span of its own, with its outcome', async (t) => {
  const good = await startUpstream('good')
  const bad = await startUpstream('bad', (_req, res) => { res.statusCode = 500; res.end() })
  const unmatched = await startUpstream('unmatched', (_req, res) => res.end('nope'))
  const hanging = await startUpstream('hanging', () => {})
  const dead = `http://127.0.0.1:${await closedPort()}`
  const clock = installClock()
  const app = Fastify()
  await app.register(lolly, {
    upstreams: {
      plain: { targets: [good.url, bad.url, dead, hanging.url], healthCheck: { path: '/health', interval: 1000, timeout: 900, jitter: 0 } },
      body: { targets: [unmatched.url], healthCheck: { path: '/health', interval: 1000, timeout: 900, jitter: 0, expect: { body: 'ok' } } },
      // Probed on a port of its own: the span says where the probe went.
      ported: { targets: [dead.replace(/:\d+$/, ':1')], healthCheck: { path: '/health', port: good.port, interval: 1000, timeout: 900, jitter: 0 } }
    },
    tracing: { probes: true }
  })
  t.teardown(async () => { clock.uninstall(); await Promise.all([good, bad, unmatched, hanging].map((up) => up.close())) })
  await app.ready()
  await clock.tickAsync(0)
  const checked = () => [...app.lolly.upstreams.plain.targets.slice(0, 3), ...app.lolly.upstreams.body.targets, ...app.lolly.upstreams.ported.targets]
  await waitFor(() => checked().every((target) => target.lastCheck !== null) && hanging.hits.length === 1, 'the first probes')
  // The hanging probe is cancelled by close: its span ends without an outcome.
  await app.close()

  const spans = sdk.lollySpans()
  const of = (url: string) => spans.find((span) => span.attributes['lolly.target'] === url)!
  for (const span of spans) {
    t.equal(span.kind, SpanKind.CLIENT)
    t.equal(span.parentSpanContext, undefined, 'a root span')
    t.equal(span.attributes['lolly.probe'], true)
  }
  t.equal(spans.length, 6)
  t.match(of(good.url), { name: 'GET', status: { code: SpanStatusCode.UNSET }, attributes: { 'url.full': `${good.url}/health`, 'http.response.status_code': 200, 'lolly.upstream': 'plain' } })
  t.ok(good.hits.some((hit) => hit.headers.traceparent === traceparentOf(of(good.url))), 'the probe\'s traceparent reached its target')
  t.match(of(bad.url), { status: { code: SpanStatusCode.ERROR }, attributes: { 'http.response.status_code': 500, 'error.type': '500' } })
  t.match(of(dead), { status: { code: SpanStatusCode.ERROR }, attributes: { 'error.type': 'ECONNREFUSED' } })
  t.match(of(unmatched.url), { status: { code: SpanStatusCode.ERROR }, attributes: { 'http.response.status_code': 200, 'error.type': 'body did not match' } })
  t.match(of(hanging.url), { status: { code: SpanStatusCode.UNSET } })
  t.notOk('error.type' in of(hanging.url).attributes)
  t.match(of('http://127.0.0.1:1'), { attributes: { 'url.full': `${good.url}/health`, 'server.port': good.port, 'lolly.upstream': 'ported' } })
  t.same(sdk.clientSpans().length, 6, 'no undici span next to them')
})
