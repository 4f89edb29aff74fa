import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import lolly from '../lib/index.js'
import type { LollyOptions } from '../lib/options/types.js'
import { StatusStream, type LiveTargetSnapshot } from '../lib/status/status-stream.js'
import type { StatusView } from '../lib/status/status-view.js'
import type { StateChange } from '../lib/pool/pool-events.js'
import type { UpstreamPool } from '../lib/pool/upstream-pool.js'
import { connectEvents } from './helpers/event-stream.js'
import { installClock } from './helpers/health-rig.js'
import { startUpstream, startUpstreams, type UpstreamHandler } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

const answer503: UpstreamHandler = (_req, res) => { res.statusCode = 503; res.end('busy') }

async function serve (options: LollyOptions): Promise<{ app: FastifyInstance, events: string }> {
  const app = Fastify()
  await app.register(lolly, options)
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, events: `http://127.0.0.1:${(app.server.address() as { port: number }).port}/lolly/events` }
}

/** Lets the event loop deliver what is in flight on real sockets (fake timers do not touch I/O). */
async function settle (clock: ReturnType<typeof installClock>): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
  await clock.tickAsync(0)
}

test('a client gets every target at once, each state change as it happens, and a summary with rates every second', async (t) => {
  const clock = installClock()
  const ok = await startUpstream('ok')
  const bad = await startUpstream('bad', answer503)
  const { app, events } = await serve({ targets: [ok.url, bad.url], retry: false, passive: false, status: true })
  t.teardown(async () => { await app.close(); await ok.close(); await bad.close(); clock.uninstall() })

  const client = await connectEvents(events)
  t.equal(client.response.statusCode, 200)
  t.equal(client.response.headers['content-type'], 'text/event-stream; charset=utf-8')
  t.equal(client.response.headers['cache-control'], 'no-store')
  const hello = (await client.next()).data as StatusView
  t.same(client.retries, [2000], 'tells the browser to reconnect after 2 s')
  t.equal(hello.at, Date.now())
  t.same(hello.upstreams[0].targets.map((s) => [s.url, s.state]), [[ok.url, 'healthy'], [bad.url, 'healthy']])

  for (let i = 0; i < 8; i++) await app.inject('/')
  await clock.tickAsync(1000)
  const summary = (await client.next('summary')).data as StatusView<LiveTargetSnapshot>
  t.equal(summary.at, Date.now())
  const [good, failing] = summary.upstreams[0].targets
  t.match(good, { url: ok.url, requests: 4, rps: 4, errorRate: 0 })
  t.match(failing, { url: bad.url, requests: 4, failures: 4, rps: 4, errorRate: 1 })

  const pool = poolOf(app)
  pool.health.transition(pool.target(bad.url)!, 'unhealthy', 'test: taken out')
  const change = (await client.next()).data as StateChange
  t.match(change, { upstream: 'default', target: bad.url, from: 'healthy', to: 'unhealthy', reason: 'test: taken out' }, 'before the next summary')

  await clock.tickAsync(1000)
  const quiet = (await client.next('summary')).data as StatusView<LiveTargetSnapshot>
  t.match(quiet.upstreams[0].targets[1], { state: 'unhealthy', rps: 0, errorRate: null }, 'no requests: no error rate')
  client.close()
})

/** Counts the observers added to `pool` from now on that are still there: the status stream's, here. */
function countObservers (pool: UpstreamPool): () => number {
  let count = 0
  const observe = pool.observe.bind(pool)
  pool.observe = (observer) => {
    count++
    const stop = observe(observer)
    return () => {
      count--
      stop()
    }
  }
  return () => count
}

test('one timer and one observer serve every client, and only while one is connected', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(1)
  const { app, events } = await serve({ targets: [ups[0].url], status: true })
  t.teardown(async () => { await app.close(); await ups[0].close(); clock.uninstall() })
  const timersBefore = clock.countTimers()
  const observers = countObservers(poolOf(app))
  t.equal(observers(), 0)

  const first = await connectEvents(events)
  const second = await connectEvents(events)
  await first.next('hello')
  await second.next('hello')
  t.equal(observers(), 1, 'one observer for both')
  t.equal(clock.countTimers(), timersBefore + 1, 'one timer for both')
  await clock.tickAsync(1000)
  const [a, b] = await Promise.all([first.next('summary'), second.next('summary')])
  t.same(a.data, b.data, 'both get the same summary')

  first.close()
  await first.ended
  await settle(clock)
  t.equal(observers(), 1, 'still one client')
  second.close()
  await second.ended
  await settle(clock)
  t.equal(observers(), 0, 'no observer left')
  t.equal(clock.countTimers(), timersBefore, 'no timer left')

  const again = await connectEvents(events)
  const hello = (await again.next()).data as StatusView
  t.equal(hello.upstreams[0].targets[0].url, ups[0].url, 'a new client starts it again')
  t.equal(clock.countTimers(), timersBefore + 1)
  again.close()
  await again.ended
})

test('a target added at runtime shows in the next summary, its rates from the one after', async (t) => {
  const clock = installClock()
  const ups = await startUpstreams(2)
  const { app, events } = await serve({ targets: [ups[0].url], status: true })
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())); clock.uninstall() })
  const client = await connectEvents(events)
  await client.next('hello')
  app.lolly.addTarget('default', ups[1].url)
  await clock.tickAsync(1000)
  let summary = (await client.next('summary')).data as StatusView<LiveTargetSnapshot>
  t.match(summary.upstreams[0].targets[1], { url: ups[1].url, rps: null, errorRate: null })
  await clock.tickAsync(1000)
  summary = (await client.next('summary')).data as StatusView<LiveTargetSnapshot>
  t.match(summary.upstreams[0].targets[1], { url: ups[1].url, rps: 0 })
  client.close()
})

test('closing the app ends open streams instead of waiting for them', async (t) => {
  const ups = await startUpstreams(1)
  const { app, events } = await serve({ targets: [ups[0].url], status: true })
  t.teardown(() => ups[0].close())
  const client = await connectEvents(events)
  await client.next('hello')
  const started = Date.now()
  await app.close()
  await client.ended
  t.ok(Date.now() - started < 1000, 'closed promptly')
  t.equal(app.lolly.listenerCount('state'), 0)
})

test('once closed, a stream ends a client that still gets in at once', async (t) => {
  const ups = await startUpstreams(1)
  const app = Fastify()
  await app.register(lolly, { targets: [ups[0].url] })
  t.teardown(async () => { await app.close(); await ups[0].close() })
  const stream = new StatusStream({ pools: [poolOf(app)], defaultUpstream: 'default', sources: () => [], history: () => [] })
  stream.close()
  const server = http.createServer((_req, res) => stream.add(res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const client = await connectEvents(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  await client.ended
  t.equal(client.response.statusCode, 200)
  t.same(client.retries, [], 'nothing sent')
  t.equal(app.lolly.listenerCount('state'), 0)
})

test('a client that stops reading is cut off once its backlog passes 1 MiB', async (t) => {
  const ups = await startUpstreams(1)
  const { app, events } = await serve({ targets: [ups[0].url], status: true })
  t.teardown(async () => { await app.close(); await ups[0].close() })
  const client = await connectEvents(events)
  await client.next('hello')
  client.response.pause()
  const pool = poolOf(app)
  const target = pool.target(ups[0].url)!
  const reason = 'x'.repeat(256 * 1024)
  // Loopback socket buffers take several MiB before the server's own backlog starts to grow.
  for (let i = 0; i < 200 && !client.response.destroyed && client.response.socket?.destroyed !== true; i++) {
    pool.health.transition(target, i % 2 === 0 ? 'disabled' : 'healthy', reason)
    await new Promise((resolve) => setImmediate(resolve))
  }
  client.response.resume()
  await client.ended
  t.equal(app.lolly.listenerCount('state'), 0, 'dropped, and its listener with it')
})
