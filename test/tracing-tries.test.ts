import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import FastifyOtelInstrumentation from '@fastify/otel'
import { request, upgrade } from 'undici'
import lolly from '../lib/index.js'
import type { LollyOptions } from '../lib/options/types.js'
import { ancestorsOf, registerSdk, traceparentOf, type Sdk } from './helpers/otel-sdk.js'
import { closedPort, startUpstream, type Upstream } from './helpers/upstreams.js'

// Every try of a proxied request is a client span, a child of the span active where the request
// was made (@fastify/otel's handler span, inside its request span), with the try's traceparent
// sent to its target. One SDK for the whole file: the globals are the process's.

let sdk: Sdk
const busy = (_req: unknown, res: { statusCode: number, end: (body: string) => void }): void => { res.statusCode = 503; res.end('busy') }

async function gateway (t: Test, options: LollyOptions, route?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(new FastifyOtelInstrumentation().plugin())
  await app.register(lolly, options)
  if (route === undefined) app.get('/*', (_req, reply) => reply.from())
  else route(app)
  t.teardown(() => app.close())
  return app
}

async function upstream (t: Test, name: string, handler?: Parameters<typeof startUpstream>[1]): Promise<Upstream> {
  const up = await startUpstream(name, handler)
  t.teardown(() => up.close())
  return up
}

test('without an SDK nothing is traced; an SDK registered after the plugin traces from its first request on', async (t) => {
  const up = await upstream(t, 'up')
  const app = await gateway(t, { targets: [up.url] })
  t.equal((await app.inject('/before')).statusCode, 200)
  t.equal(up.hits[0].headers.traceparent, undefined, 'no header, no context')

  sdk = registerSdk()
  t.equal((await app.inject('/after')).statusCode, 200)
  const [span] = sdk.lollySpans()
  t.ok(span, 'the same app traces once an SDK is there')
  t.equal(up.hits[1].headers.traceparent, traceparentOf(span))
  sdk.exporter.reset()
})

for (const [path, options] of [['fast path', {}], ['reply-from path', { disableRequestLogging: false }]] as const) {
  test(`${path}: the try is a client span under @fastify/otel's server span, named and attributed by the HTTP conventions`, async (t) => {
    const up = await upstream(t, 'up')
    const app = await gateway(t, { targets: [`${up.url}/base`], ...options })
    // The client's own traceparent is replaced: the target's parent is the try.
    const res = await app.inject({ url: '/x?q=1', headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })
    t.equal(res.statusCode, 200)
    const spans = sdk.exporter.getFinishedSpans()
    const tries = sdk.lollySpans()
    t.equal(tries.length, 1)
    const [span] = tries
    t.equal(span.name, 'GET')
    t.equal(span.kind, SpanKind.CLIENT)
    t.same(span.attributes, {
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': up.port,
      'url.full': `${up.url}/base/x?q=1`,
      'network.peer.address': '127.0.0.1',
      'http.response.status_code': 200,
      'lolly.upstream': 'default',
      'lolly.target': `${up.url}/base`,
      'lolly.try': 1
    })
    t.equal(span.status.code, SpanStatusCode.UNSET)
    const server = ancestorsOf(span, spans).find((one) => one.kind === SpanKind.SERVER)
    t.ok(server, 'the server span of @fastify/otel is an ancestor')
    t.equal(span.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c', 'in the trace the client started')
    t.equal(up.hits[0].headers.traceparent, traceparentOf(span))
    sdk.exporter.reset()
  })
}

test('failover: a span per try, the retry with its resend count and why the try before it moved on', async (t) => {
  const dead = `http://127.0.0.1:${await closedPort()}`
  const down = await upstream(t, 'down', busy)
  const good = await upstream(t, 'good')
  const app = await gateway(t, { targets: [dead, down.url, good.url], balancer: 'first', passive: false, retry: { attempts: 2, on: ['connect-error', 'status'] } })
  t.equal((await app.inject('/x')).statusCode, 200)
  const tries = sdk.lollySpans().sort((a, b) => (a.attributes['lolly.try'] as number) - (b.attributes['lolly.try'] as number))
  t.same(tries.map((span) => span.attributes['lolly.target']), [dead, down.url, good.url])
  t.match(tries[0], { status: { code: SpanStatusCode.ERROR }, attributes: { 'lolly.try': 1, 'error.type': 'ECONNREFUSED' } })
  t.notOk('http.request.resend_count' in tries[0].attributes, 'the first try is no resend')
  t.notOk('http.response.status_code' in tries[0].attributes)
  t.match(tries[1], {
    status: { code: SpanStatusCode.ERROR },
    attributes: { 'lolly.try': 2, 'http.request.resend_count': 1, 'lolly.retry_reason': 'connect-error', 'http.response.status_code': 503, 'error.type': '503' }
  })
  t.match(tries[2], { status: { code: SpanStatusCode.UNSET }, attributes: { 'lolly.try': 3, 'http.request.resend_count': 2, 'lolly.retry_reason': 'status', 'http.response.status_code': 200 } })
  t.notOk('error.type' in tries[2].attributes)
  t.same(new Set(tries.map((span) => span.parentSpanContext?.spanId)).size, 1, 'all three under the same parent')
  t.equal(down.hits[0].headers.traceparent, traceparentOf(tries[1]))
  t.equal(good.hits[0].headers.traceparent, traceparentOf(tries[2]))
  sdk.exporter.reset()
})

test('a retry reply-from\'s retryDelay makes counts on: its reason is "caller"', async (t) => {
  const up = await upstream(t, 'up', busy)
  const app = await gateway(t, { targets: [up.url], retry: false, passive: false }, (app) => {
    app.get('/*', (_req, reply) => reply.from(undefined, { retryDelay: ({ attempt }) => attempt < 1 ? 1 : null }))
  })
  t.equal((await app.inject('/x')).statusCode, 503)
  const tries = sdk.lollySpans()
  t.equal(tries.length, 2)
  t.match(tries[1].attributes, { 'lolly.try': 2, 'http.request.resend_count': 1, 'lolly.retry_reason': 'caller' })
  sdk.exporter.reset()
})

test('the pool\'s dispatcher: its tries are traced the same, under the span active where it is called; a WebSocket upgrade try too', async (t) => {
  const up = await upstream(t, 'up')
  up.server.on('upgrade', (_req, socket) => {
    socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n')
  })
  const app = await gateway(t, { targets: [up.url] }, (app) => {
    app.get('/request', async () => {
      const res = await request('http://pool/y', { dispatcher: app.lolly.upstreams.default.dispatcher, method: 'DELETE', headers: ['x-one', '1'] })
      return res.body.text()
    })
    app.get('/upgrade', async () => {
      const { socket } = await upgrade('http://pool/ws', { dispatcher: app.lolly.upstreams.default.dispatcher, protocol: 'test' })
      socket.destroy()
      return 'upgraded'
    })
  })
  t.equal((await app.inject('/request')).body, 'up DELETE /y')
  t.equal((await app.inject('/upgrade')).body, 'upgraded')
  const [deleted, upgraded] = sdk.lollySpans()
  t.match(deleted, { name: 'DELETE', attributes: { 'http.request.method': 'DELETE', 'http.response.status_code': 200 } })
  t.equal(up.hits[0].headers.traceparent, traceparentOf(deleted))
  t.equal(up.hits[0].headers['x-one'], '1', 'the caller\'s headers go on, as a flat array')
  t.match(upgraded, { name: 'GET', status: { code: SpanStatusCode.UNSET }, attributes: { 'url.full': `${up.url}/ws`, 'http.response.status_code': 101 } })
  t.equal(ancestorsOf(upgraded, sdk.exporter.getFinishedSpans()).filter((one) => one.kind === SpanKind.SERVER).length, 1)
  sdk.exporter.reset()
})

test('tracing: false traces nothing, with the SDK registered', async (t) => {
  const up = await upstream(t, 'up')
  const app = await gateway(t, { targets: [up.url], tracing: false })
  t.equal((await app.inject('/x')).statusCode, 200)
  t.same(sdk.lollySpans(), [])
  t.equal(up.hits[0].headers.traceparent, undefined)
  sdk.exporter.reset()
})
