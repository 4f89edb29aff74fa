import { test } from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import client from 'prom-client'
import lolly from '../lib/index.js'
import type { StateChange } from '../lib/pool/pool-events.js'
import { connectEvents } from './helpers/event-stream.js'
import { idle, installClock, nextProbe } from './helpers/health-clock.js'
import { poolOf } from './helpers/internals.js'
import { startUpstream, startUpstreams } from './helpers/upstreams.js'

// The parts of fastify-lolly that watch the pools (active checks, metrics, the status stream) hear
// from the pools themselves. `app.lolly`'s events are for users, told last, and nothing a listener
// does there reaches the code that made the change.

function logLines (): { stream: Writable, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      cb()
    }
  })
  return { stream, lines }
}

test('removeAllListeners() on app.lolly breaks nothing: checks, metrics and the status stream keep working', async (t) => {
  const [steady, added] = await startUpstreams(2)
  const bad = await startUpstream('bad', (_req, res) => { res.statusCode = 503; res.end('busy') })
  const clock = installClock()
  const registry = new client.Registry()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await Promise.all([steady, added, bad].map((u) => u.close())) })
  await app.register(lolly, {
    targets: [steady.url, bad.url],
    healthCheck: { interval: 1000, timeout: 300, jitter: 0 },
    passive: { maxFails: 2 },
    retry: false,
    metrics: { registry },
    status: true
  })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  app.lolly.removeAllListeners()

  // A target added at runtime is probed: the checker heard of it from the pool.
  app.lolly.addTarget('default', added.url)
  await nextProbe(clock, app, 0, 2)
  t.ok(added.hits.some((hit) => hit.url === '/health'), 'the added target was probed')

  // The status stream tells its clients of a transition, and metrics count the ejection.
  const events = await connectEvents(`${app.listeningOrigin}/lolly/events`)
  await events.next('hello')
  while (app.lolly.targets[1].state !== 'ejected') await app.inject('/x')
  const change = (await events.next('state')).data as StateChange
  t.match(change, { target: bad.url, to: 'ejected' })
  events.close()
  const metrics = await registry.getSingleMetricAsString('lolly_ejections_total')
  t.match(metrics, new RegExp(`lolly_ejections_total\\{upstream="default",target="${bad.url.replace(/\./g, '\\.')}"\\} 1`))
})

test('a state listener that throws is logged, the others still run, and the request that caused the change is answered', async (t) => {
  const good = await startUpstream('good')
  const bad = await startUpstream('bad', (_req, res) => { res.statusCode = 503; res.end('busy') })
  const clock = installClock()
  const { stream, lines } = logLines()
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(async () => { await app.close(); clock.uninstall(); await good.close(); await bad.close() })
  await app.register(lolly, { targets: [bad.url, good.url], balancer: 'first', passive: { maxFails: 1, ejectTime: 1000 } })
  app.get('/*', (_req, reply) => reply.from())
  const seen: string[] = []
  app.lolly.on('state', () => { throw new Error('listener bug') })
  app.lolly.once('state', (change) => { seen.push(`once ${change.to}`) })
  app.lolly.on('state', async (change) => {
    seen.push(`async ${change.to}`)
    throw new Error('async listener bug')
  })
  app.lolly.on('state', (change) => { seen.push(`after ${change.to}`) })

  // The ejection happens inside undici's callback of the failed try: the request still fails over.
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'good GET /x')
  t.equal(app.lolly.targets[0].state, 'ejected')
  // ... and the ejection's end runs in a timer: it still brings the target back.
  clock.tick(1000)
  t.equal(app.lolly.targets[0].state, 'healthy')
  await idle(10)
  t.same(seen, ['once ejected', 'async ejected', 'after ejected', 'async healthy', 'after healthy'], 'every other listener ran, a `once` one once')
  const failures = lines.filter((line) => line.msg === "lolly: an app.lolly 'state' listener threw; the change stands and the other listeners ran")
  t.same(failures.map((line) => `${line.level} ${line.event} ${line.err.message}`).sort(), [
    '50 state async listener bug', '50 state async listener bug', '50 state listener bug', '50 state listener bug'
  ], 'each throw and each rejection logged once, as an error')
})

test('panic and membership listeners that throw are caught too', async (t) => {
  const ups = await startUpstreams(2)
  const { stream, lines } = logLines()
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: [ups[0].url], panicPercent: 50 })
  app.lolly.on('panic', () => { throw new Error('panic listener bug') })
  app.lolly.on('target', () => { throw new Error('target listener bug') })
  t.doesNotThrow(() => app.lolly.addTarget('default', ups[1].url))
  t.doesNotThrow(() => app.lolly.disable('default', ups[0].url))
  t.doesNotThrow(() => app.lolly.disable('default', ups[1].url))
  t.equal(poolOf(app).health.panicking, false, 'nothing eligible: no panic')
  app.lolly.enable('default', ups[0].url)
  poolOf(app).health.transition(poolOf(app).target(ups[0].url)!, 'unhealthy', 'test')
  t.equal(app.lolly.upstreams.default.panicking, true)
  t.equal(lines.filter((line) => line.err?.message === 'target listener bug').length, 1)
  t.equal(lines.filter((line) => line.err?.message === 'panic listener bug').length, 1)
})
