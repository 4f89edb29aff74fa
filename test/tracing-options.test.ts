import { test } from 'tap'
import Module from 'node:module'
import Fastify from 'fastify'
import * as otelApi from '@opentelemetry/api'
import lolly from '../lib/index.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import { loadOtelApi } from '../lib/tracing/otel-api.js'
import { lollyTracer } from '../lib/tracing/lolly-tracer.js'
import { withTraceHeaders } from '../lib/tracing/trace-headers.js'
import { requestAttributes, spanName } from '../lib/tracing/http-client-span.js'
import { endTrySpan } from '../lib/tracing/try-span.js'
import { registerSdk } from './helpers/otel-sdk.js'
import { poolOf } from './helpers/internals.js'
import { startUpstream } from './helpers/upstreams.js'

// The tracing option, a missing @opentelemetry/api, and the parts of a span no proxy test reaches.

const sdk = registerSdk()

function missing (id: string): never {
  throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' })
}

test('tracing: on by default, true alike, false off, { probes }; a bad value names its path', async (t) => {
  const targets = ['http://127.0.0.1:1']
  t.same(readPluginOptions({ targets }).tracing, { probes: false })
  t.same(readPluginOptions({ targets, tracing: true }).tracing, { probes: false })
  t.equal(readPluginOptions({ targets, tracing: false }).tracing, null)
  t.same(readPluginOptions({ targets, tracing: {} }).tracing, { probes: false })
  t.same(readPluginOptions({ targets, tracing: { probes: true } }).tracing, { probes: true })
  t.throws(() => readPluginOptions({ targets, tracing: 'on' }), { code: 'FST_LOLLY_INVALID_OPTION', message: 'tracing must be a boolean or an object, got \'on\'' })
  t.throws(() => readPluginOptions({ targets, tracing: { probes: 'yes' } }), { message: 'tracing.probes must be a boolean, got \'yes\'' })
  t.throws(() => readPluginOptions({ targets, tracing: { spans: true } }), { message: 'tracing.spans is not a known option (known: probes)' })
})

test('without @opentelemetry/api the plugin runs untraced, with no error', async (t) => {
  t.equal(loadOtelApi(missing), undefined)
  t.equal(lollyTracer({ probes: false }, missing), null)
  t.equal(lollyTracer(null), null, 'tracing: false loads nothing')
  t.equal(loadOtelApi(), otelApi, 'installed, the default loader finds it')
  const broken = new Error('boom')
  t.throws(() => loadOtelApi(() => { throw broken }), broken, 'a broken install says so')

  // The plugin itself, with the api's resolution failing as it does when the package is absent.
  const up = await startUpstream('up')
  const app = Fastify()
  const resolve = (Module as unknown as { _resolveFilename: (...args: unknown[]) => string })._resolveFilename
  ;(Module as unknown as { _resolveFilename: (...args: unknown[]) => string })._resolveFilename = function (this: unknown, ...args: unknown[]) {
    if (args[0] === '@opentelemetry/api') missing('@opentelemetry/api')
    return resolve.apply(this, args)
  }
  try {
    await app.register(lolly, { targets: [up.url], tracing: { probes: true } })
  } finally {
    ;(Module as unknown as { _resolveFilename: unknown })._resolveFilename = resolve
  }
  app.get('/*', (_req, reply) => reply.from())
  t.teardown(async () => { await app.close(); await up.close() })
  t.equal(poolOf(app).tracer, null)
  t.equal((await app.inject('/x')).statusCode, 200)
  t.equal(up.hits[0].headers.traceparent, undefined)
  t.same(sdk.exporter.getFinishedSpans(), [], 'no span, the SDK registered notwithstanding')
})

test('trace headers replace the client\'s in every form undici takes headers in, and copy the caller\'s', async (t) => {
  const carrier = { traceparent: '00-a-b-01', tracestate: 'x=1' }
  const object = { 'x-one': '1', TraceParent: 'theirs' }
  t.same(withTraceHeaders(object, carrier), { 'x-one': '1', traceparent: '00-a-b-01', tracestate: 'x=1' })
  t.same(object, { 'x-one': '1', TraceParent: 'theirs' }, 'the caller\'s object is left as it was')
  t.same(withTraceHeaders(['x-two', 'a', 'x-two', 'b', 'traceparent', 'theirs'], carrier), { 'x-two': ['a', 'b'], traceparent: '00-a-b-01', tracestate: 'x=1' })
  function * pairs (): Iterable<[string, string | string[] | undefined]> {
    yield ['x-three', 'c']
    yield ['x-three', undefined]
    yield ['x-three', ['d']]
  }
  t.same(withTraceHeaders(pairs() as never, carrier), { 'x-three': ['c', 'd'], traceparent: '00-a-b-01', tracestate: 'x=1' })
  t.same(withTraceHeaders(null, carrier), carrier)
  // A client's header named __proto__ is a header: kept as one, not a prototype to set (it was dropped before).
  const proto = withTraceHeaders(['__proto__', 'x', 'x-four', '4'], carrier) as Record<string, string>
  t.equal(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, 'x')
  t.equal(proto['x-four'], '4')
  t.same(withTraceHeaders(undefined, carrier), carrier)
  const headers = { a: '1' }
  t.equal(withTraceHeaders(headers, {}), headers, 'nothing to add (no propagator): the headers as they are')
})

test('span names and attributes: unknown methods, default ports, IPv6 and named hosts', async (t) => {
  const app = Fastify()
  await app.register(lolly, { targets: ['https://[::1]', 'http://localhost:8080', 'http://127.0.0.1'] })
  t.teardown(() => app.close())
  const [v6, named, plain] = poolOf(app).targets
  t.equal(spanName('PURGE'), 'HTTP')
  t.same(requestAttributes(v6, 'PURGE', '/'), {
    'http.request.method': '_OTHER',
    'http.request.method_original': 'PURGE',
    'server.address': '::1',
    'server.port': 443,
    'url.full': 'https://[::1]/',
    'network.peer.address': '::1',
    'lolly.upstream': 'default',
    'lolly.target': 'https://[::1]'
  })
  t.notOk('network.peer.address' in requestAttributes(named, 'GET', '/'), 'a name: the peer is not known without the socket')
  t.equal(requestAttributes(plain, 'GET', '/')['server.port'], 80)
})

test('an SDK without a propagator: the try is traced, its headers go as they are', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  await app.register(lolly, { targets: [up.url] })
  app.get('/*', (_req, reply) => reply.from())
  otelApi.propagation.disable()
  t.teardown(async () => { sdk.registerPropagator(); await app.close(); await up.close() })
  t.equal((await app.inject('/x')).statusCode, 200)
  t.equal(up.hits[0].headers.traceparent, undefined)
  t.equal(sdk.lollySpans().length, 1)
  sdk.exporter.reset()
})

test('a try let go of before it connected ends its span with the reason', async (t) => {
  const span = otelApi.trace.getTracer('test').startSpan('GET')
  endTrySpan(span, 0, 'CLIENT_ABORTED')
  const [ended] = sdk.exporter.getFinishedSpans()
  t.match(ended, { status: { code: otelApi.SpanStatusCode.ERROR }, attributes: { 'error.type': 'CLIENT_ABORTED' } })
})
