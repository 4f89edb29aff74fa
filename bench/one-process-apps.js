'use strict'

// Child process for the one-process cost bench: five proxies in ONE process, on five ports, in front
// of the same upstreams: bare @fastify/reply-from (one base), the same again, fastify-lolly as the
// throughput bench runs it (3 targets, round-robin, active checks every second), that with
// Prometheus metrics on, scraped every second, and the floor (bench/floor-proxy.js). The parent loads one at a time and reads this
// process's CPU per request, so the comparison carries no process-to-process difference (which CPU,
// JIT luck): two identical proxy *processes* have differed here by up to 10 %. The second bare app
// shows what is left of the noise.
// With `baseline` (a directory holding another version of fastify-lolly, built), that version too.
// With `otel`, an OpenTelemetry SDK is registered (spans batched, then dropped: the cost measured is
// making them, not exporting them) and @fastify/otel is on every fastify-lolly app.
//   node --expose-gc bench/one-process-apps.js '<json: { targets: [url, ...], baseline?: dir, otel?: boolean }>'

const { Registry } = require('prom-client')
const { serveParent } = require('./ipc.js')
const lolly = require('../dist/index.js')
const { floorApp } = require('./floor-proxy.js')

const path = require('node:path')

const { targets, baseline, otel } = JSON.parse(process.argv[2])
const fastifyOtel = otel ? registerOtel() : null
// As the throughput bench's lolly contenders: active checks every second.
const HEALTH_CHECK = { interval: 1000, timeout: 500 }
const SCRAPE_INTERVAL_MS = 1000

async function listen (app) {
  app.get('/*', (request, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

async function bare () {
  const app = require('fastify')()
  await app.register(require('@fastify/reply-from'), { base: targets[0] })
  return listen(app)
}

/** Fastify + undici with nothing of a balancer (bench/floor-proxy.js): what lolly's own layers are measured against. */
async function floor () {
  const { app } = await floorApp(targets)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

/** The OpenTelemetry SDK as an app sets it up, exporting nowhere; the @fastify/otel instrumentation. */
function registerOtel () {
  const { context, propagation, trace } = require('@opentelemetry/api')
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
  const { W3CTraceContextPropagator } = require('@opentelemetry/core')
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
  const dropped = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} }
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropped)] }))
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  const FastifyOtelInstrumentation = require('@fastify/otel')
  return new FastifyOtelInstrumentation()
}

async function withLolly (metrics, plugin = lolly) {
  const app = require('fastify')()
  if (fastifyOtel !== null) await app.register(fastifyOtel.plugin())
  await app.register(plugin, { targets, balancer: 'round-robin', healthCheck: HEALTH_CHECK, metrics })
  return listen(app)
}

async function main () {
  const registry = new Registry()
  const apps = {
    bare: await bare(),
    bareAgain: await bare(),
    lolly: await withLolly(false),
    lollyMetrics: await withLolly({ registry }),
    floor: await floor()
  }
  if (baseline !== undefined && baseline !== null) apps.lollyBaseline = await withLolly(false, require(path.resolve(baseline, 'dist', 'index.js')))
  // Far more often than a Prometheus server would (15 s is usual), so scrape cost is not hidden.
  const scraper = setInterval(() => { registry.metrics().catch(() => {}) }, SCRAPE_INTERVAL_MS)
  const ports = {}
  for (const [name, app] of Object.entries(apps)) ports[name] = app.server.address().port
  serveParent({
    // Between measurements, so no proxy pays for garbage the one measured before it left behind.
    gc: () => global.gc(),
    close: async () => {
      clearInterval(scraper)
      await Promise.all(Object.values(apps).map((app) => app.close()))
    }
  }).ready({ ports })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
