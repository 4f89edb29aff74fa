import { test, type Test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import type { HealthCheckOptions } from '../lib/options/types.js'
import type { StateChange } from '../lib/pool/pool-events.js'
import { startUpstream, startUpstreams, type Upstream } from './helpers/upstreams.js'
import { idle, installClock, lastCheck, nextProbe, recordRequests, waitFor } from './helpers/health-clock.js'

// When probes run: intervals, jitter, the concurrency cap, and nothing after close.

async function checkedApp (t: Test, ups: Upstream[], healthCheck: HealthCheckOptions) {
  const clock = installClock()
  const requests = recordRequests()
  const app = Fastify()
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app.close()
  }
  t.teardown(async () => { await close(); requests.stop(); clock.uninstall(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: ups.map((u) => u.url), healthCheck: { interval: 1000, timeout: 300, jitter: 0, ...healthCheck } })
  await app.ready()
  return { app, clock, starts: requests.starts, close }
}

test('an unhealthy target is probed every unhealthyInterval, a healthy one every interval', async (t) => {
  let status = 500
  const up = await startUpstream('a', (_req, res) => { res.statusCode = status; res.end() })
  const { app, clock, starts } = await checkedApp(t, [up], { unhealthyInterval: 5000, unhealthyThreshold: 1, healthyThreshold: 1 })
  await nextProbe(clock, app, 0)
  t.equal(app.lolly.targets[0].state, 'unhealthy')
  await clock.tickAsync(4999)
  await idle(30)
  t.equal(up.hits.length, 1, 'no probe before unhealthyInterval')
  await nextProbe(clock, app, 1)
  status = 200
  await nextProbe(clock, app, 5000)
  t.equal(app.lolly.targets[0].state, 'healthy')
  await nextProbe(clock, app, 1000)
  t.same(starts.map((s) => s.at), [0, 5000, 10000, 11000])
})

test('the interval counts from the end of the previous probe, so probes of a target never overlap', async (t) => {
  const hanging = await startUpstream('hanging', () => {})
  const { app, clock, starts } = await checkedApp(t, [hanging], { timeout: 900 })
  await clock.tickAsync(0)
  await waitFor(() => hanging.hits.length === 1, 'the first probe')
  await nextProbe(clock, app, 900)
  await clock.tickAsync(1000)
  await waitFor(() => hanging.hits.length === 2, 'the second probe')
  t.same(starts.map((s) => s.at), [0, 1900])
})

test('probe starts snap to 20 ms marks of the clock (without jitter: the next one), so probes due together wake the process once', async (t) => {
  const hanging = await startUpstream('hanging', () => {})
  const { app, clock, starts } = await checkedApp(t, [hanging], { timeout: 307 })
  await clock.tickAsync(0)
  await waitFor(() => hanging.hits.length === 1, 'the first probe')
  t.match(await nextProbe(clock, app, 307), { error: 'timeout', at: 307 })
  await clock.tickAsync(1012)
  await idle(30)
  t.equal(hanging.hits.length, 1, 'nothing before the mark')
  await clock.tickAsync(1)
  await waitFor(() => hanging.hits.length === 2, 'the second probe')
  t.same(starts.map((s) => s.at), [0, 1320], 'due at 1307, started at 1320')
})

test('jitter spreads first probes over jitter × interval, and every later wait over interval × (1 ± jitter/2)', async (t) => {
  const ups = await startUpstreams(8)
  const { app, clock, starts } = await checkedApp(t, ups, { jitter: 0.5 })
  await clock.tickAsync(500)
  await waitFor(() => ups.every((_, i) => lastCheck(app, i) !== null), 'every first probe')
  const first = starts.map((s) => s.at)
  t.equal(first.length, 8)
  t.ok(first.every((at) => at >= 0 && at < 500), `first probes within [0, 500): ${first}`)
  t.ok(new Set(first).size >= 4, `spread, not all at once: ${first}`)

  // Each later wait is interval × (1 ± jitter/2), counted from the end of the target's previous probe.
  const ended = new Map(ups.map((u, i) => [u.url, lastCheck(app, i)!.at]))
  starts.length = 0
  await clock.tickAsync(1750)
  await waitFor(() => ups.every((u) => u.hits.length >= 2), 'every second probe')
  const waits = ups.map((u) => starts.find((s) => s.origin === u.url)!.at - ended.get(u.url)!)
  t.ok(waits.every((wait) => wait >= 750 && wait <= 1250), `waits within [750, 1250]: ${waits}`)
  t.ok(new Set(waits).size >= 4, `spread: ${waits}`)
})

test('jitter 0 probes every target at the same moment', async (t) => {
  const ups = await startUpstreams(4)
  const { clock, starts } = await checkedApp(t, ups, { jitter: 0 })
  await clock.tickAsync(0)
  await waitFor(() => ups.every((u) => u.hits.length === 1), 'every first probe')
  t.same(starts.map((s) => s.at), [0, 0, 0, 0])
})

test('at most `concurrency` probes are in flight; the rest wait their turn', async (t) => {
  const ups = await startUpstreams(4, () => {})
  const { clock, starts } = await checkedApp(t, ups, { concurrency: 2 })
  const hits = () => ups.reduce((sum, u) => sum + u.hits.length, 0)
  await clock.tickAsync(0)
  await waitFor(() => hits() === 2, 'two probes')
  await idle(30)
  t.equal(hits(), 2, 'the other two wait')
  await clock.tickAsync(300)
  await waitFor(() => hits() === 4, 'the waiting probes')
  t.same(starts.map((s) => s.at), [0, 0, 300, 300], 'they start when the first two time out')
})

test('nothing is probed after close', async (t) => {
  const up = await startUpstream('a')
  const { app, clock, starts, close } = await checkedApp(t, [up], {})
  await nextProbe(clock, app, 0)
  await nextProbe(clock, app, 1000)
  await close()
  await clock.tickAsync(10_000)
  await idle(30)
  t.equal(up.hits.length, 2, 'the server got no request after close')
  t.equal(starts.length, 2)
})

test('a probe in flight at close is aborted and reports nothing', async (t) => {
  let connectionClosed = false
  const hanging = await startUpstream('hanging', (req) => { req.socket.on('close', () => { connectionClosed = true }) })
  const { app, clock, close } = await checkedApp(t, [hanging], { timeout: 900, unhealthyThreshold: 1 })
  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))
  await clock.tickAsync(0)
  await waitFor(() => hanging.hits.length === 1, 'the probe')
  await close()
  await waitFor(() => connectionClosed, 'the probe connection to close')
  t.equal(lastCheck(app), null, 'no result recorded')
  t.same(changes, [], 'no state change')
})
