import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { Agent, errors, type Dispatcher } from 'undici'
import lolly from '../lib/index.js'
import { Probe, type ProbeOutcome } from '../lib/health/probe.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import type { HealthCheckOptions } from '../lib/options/types.js'
import { closedPort, startUpstream, type Upstream } from './helpers/upstreams.js'
import { installClock, lastCheck, nextProbe, waitFor } from './helpers/health-clock.js'

// What one probe sends and how its answer is judged. Each app probes its targets once at start (jitter 0).

async function probeApp (t: Test, targets: string[], healthCheck: HealthCheckOptions, cleanup: Upstream[] = []) {
  const clock = installClock()
  const app = Fastify()
  t.teardown(async () => { await app.close(); clock.uninstall(); await Promise.all(cleanup.map((u) => u.close())) })
  await app.register(lolly, { targets, healthCheck: { interval: 1000, timeout: 500, jitter: 0, ...healthCheck } })
  await app.ready()
  return { app, clock }
}

async function firstResults (t: Test, targets: string[], healthCheck: HealthCheckOptions, cleanup: Upstream[] = []) {
  const { app, clock } = await probeApp(t, targets, healthCheck, cleanup)
  await clock.tickAsync(0)
  await waitFor(() => targets.every((_, i) => lastCheck(app, i) !== null), 'first probes')
  return targets.map((_, i) => lastCheck(app, i)!)
}

test('a probe is a GET of /health with the Host of real traffic and a lolly User-Agent', async (t) => {
  const up = await startUpstream('a')
  const [result] = await firstResults(t, [`${up.url}/base`], {}, [up])
  t.match(result, { ok: true, status: 200, error: null, at: 0 })
  t.type(result.durationMs, 'number')
  t.equal(up.hits.length, 1)
  t.match(up.hits[0], { method: 'GET', url: '/health', headers: { host: `127.0.0.1:${up.port}` } })
  t.match(up.hits[0].headers['user-agent'], /^fastify-lolly-health\/\d+\.\d+\.\d+/)
  t.ok(Object.isFrozen(result), 'results are replaced, never mutated')
})

test('path, method, headers and port are configurable', async (t) => {
  const traffic = await startUpstream('traffic')
  const health = await startUpstream('health')
  const results = await firstResults(t, [traffic.url], {
    path: '/status?full=1',
    method: 'HEAD',
    port: health.port,
    headers: { 'User-Agent': 'probe/1', 'X-Probe': 'yes' }
  }, [traffic, health])
  t.match(results, [{ ok: true, status: 200 }])
  t.equal(traffic.hits.length, 0, 'nothing reaches the traffic port')
  t.match(health.hits, [{
    method: 'HEAD',
    url: '/status?full=1',
    headers: { host: `127.0.0.1:${traffic.port}`, 'user-agent': 'probe/1', 'x-probe': 'yes' }
  }])
})

test('a Host header in the check replaces the target host', async (t) => {
  const up = await startUpstream('a')
  await firstResults(t, [up.url], { headers: { host: 'health.internal' } }, [up])
  t.equal(up.hits[0].headers.host, 'health.internal')
})

test('statuses pass by list, range and class; the default is 2xx', async (t) => {
  const answer = async (status: number) => startUpstream(String(status), (_req, res) => { res.statusCode = status; res.end() })
  const ups = await Promise.all([200, 204, 301, 404, 500].map(answer))
  const urls = ups.map((u) => u.url)
  const byDefault = await firstResults(t, urls, {}, ups)
  t.same(byDefault.map((r) => r.ok), [true, true, false, false, false])
  t.same(byDefault.map((r) => r.error), [null, null, 'status 301', 'status 404', 'status 500'])
  t.equal(byDefault[4].status, 500)
})

test('expect.status: a list of statuses, ranges and classes', async (t) => {
  const answer = async (status: number) => startUpstream(String(status), (_req, res) => { res.statusCode = status; res.end() })
  const ups = await Promise.all([200, 204, 301, 404, 500].map(answer))
  const results = await firstResults(t, ups.map((u) => u.url), { expect: { status: [200, '300-399', '5xx'] } }, ups)
  t.same(results.map((r) => r.ok), [true, false, true, false, true])
})

test('a redirect is judged as it is and never followed', async (t) => {
  const elsewhere = await startUpstream('elsewhere')
  const redirecting = await startUpstream('redirecting', (_req, res) => {
    res.writeHead(302, { location: `${elsewhere.url}/health` })
    res.end()
  })
  const [result] = await firstResults(t, [redirecting.url], {}, [redirecting, elsewhere])
  t.match(result, { ok: false, status: 302, error: 'status 302' })
  t.equal(elsewhere.hits.length, 0, 'the Location got no request')
})

test('expect.body: a substring or a RegExp, matched against the first maxBodyBytes only', async (t) => {
  const up = await startUpstream('a', (_req, res) => { res.end('a'.repeat(100) + 'MARK') })
  const { app, clock } = await probeApp(t, [up.url], { expect: { body: /MARK/g }, maxBodyBytes: 104 }, [up])
  t.match(await nextProbe(clock, app, 0), { ok: true })
  t.match(await nextProbe(clock, app, 1000), { ok: true }, 'a global RegExp keeps no state between probes')
})

test('expect.body fails the probe when it lies past maxBodyBytes or is not there', async (t) => {
  const late = await startUpstream('late', (_req, res) => { res.end('a'.repeat(100) + 'MARK') })
  const absent = await startUpstream('absent', (_req, res) => { res.end('no mark here') })
  const results = await firstResults(t, [late.url, absent.url], { expect: { body: 'MARK' }, maxBodyBytes: 100 }, [late, absent])
  t.match(results, [{ ok: false, status: 200, error: 'body did not match' }, { ok: false, status: 200, error: 'body did not match' }])
})

test('a huge streaming body is cut at maxBodyBytes: the probe completes without reading it all', async (t) => {
  const total = 16 * 1024 * 1024
  const stream = { sent: 0, finished: false, closed: false }
  const up = await startUpstream('huge', (_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, 'x')
    res.on('close', () => { stream.closed = true; stream.finished = res.writableFinished })
    const pump = (): void => {
      while (stream.sent < total) {
        stream.sent += chunk.length
        if (!res.write(chunk)) {
          res.once('drain', pump)
          return
        }
      }
      res.end('END')
    }
    pump()
  })
  const [result] = await firstResults(t, [up.url], { expect: { body: /^x+$/ } }, [up])
  t.match(result, { ok: true, status: 200 }, 'the prefix (64 KiB of x) passes')
  await waitFor(() => stream.closed, 'the server to see the connection close')
  t.notOk(stream.finished, 'the response was never read to its end')
  t.ok(stream.sent < total, `the server could only write ${stream.sent} of ${total} bytes`)
})

test('the end of a huge body is never seen by expect.body', async (t) => {
  const up = await startUpstream('huge', (_req, res) => {
    res.write(Buffer.alloc(8 * 1024 * 1024, 'x'))
    res.end('END')
  })
  const [missing] = await firstResults(t, [up.url], { expect: { body: 'END' }, maxBodyBytes: 1024 }, [up])
  t.match(missing, { ok: false, status: 200, error: 'body did not match' })
})

test('a target that never answers fails with timeout after `timeout`', async (t) => {
  const hanging = await startUpstream('hanging', () => {})
  const { app, clock } = await probeApp(t, [hanging.url], { timeout: 300 }, [hanging])
  await clock.tickAsync(0)
  await waitFor(() => hanging.hits.length === 1, 'the probe to arrive')
  await clock.tickAsync(299)
  t.equal(lastCheck(app), null, 'still waiting 1 ms before the timeout')
  await clock.tickAsync(1)
  await waitFor(() => lastCheck(app) !== null, 'the timeout')
  t.match(lastCheck(app), { ok: false, status: null, error: 'timeout', at: 300 })
})

test('a body that stalls after the headers times out too, and keeps the status', async (t) => {
  const stalling = await startUpstream('stalling', (_req, res) => { res.write('partial') })
  const { app, clock } = await probeApp(t, [stalling.url], { timeout: 300, expect: { body: 'done' } }, [stalling])
  await clock.tickAsync(0)
  await waitFor(() => stalling.hits.length === 1, 'the probe to arrive')
  await clock.tickAsync(300)
  await waitFor(() => lastCheck(app) !== null, 'the timeout')
  t.match(lastCheck(app), { ok: false, status: 200, error: 'timeout' })
})

test('a refused connection fails with its error code', async (t) => {
  const port = await closedPort()
  const [result] = await firstResults(t, [`http://127.0.0.1:${port}`], {})
  t.match(result, { ok: false, status: null, error: 'ECONNREFUSED' })
})

test("undici's own timeouts count as a timeout too", async (t) => {
  // undici runs its headers and body timeouts on one module-wide timer, which the fake clocks of the
  // tests above have captured; a dispatcher failing the way undici's does stands in for it here.
  const check = readPluginOptions({ targets: ['http://127.0.0.1:1'], healthCheck: { timeout: 5000 } }).upstreams.get('default')!.healthCheck!
  const request = { origin: 'http://127.0.0.1:1', path: '/health', method: 'GET' as const, headers: {} }
  for (const error of [new errors.ConnectTimeoutError(), new errors.HeadersTimeoutError(), new errors.BodyTimeoutError()]) {
    const timingOut = { dispatch: (_opts: unknown, handler: Dispatcher.DispatchHandler) => { handler.onError!(error); return true } } as unknown as Dispatcher
    const outcome = await new Promise<ProbeOutcome>((resolve) => new Probe(check, resolve).send(timingOut, request))
    t.same(outcome, { ok: false, status: null, error: 'timeout' }, error.code)
  }
})

test('a probe stopped before its connection is up never sends its request and reports nothing', async (t) => {
  const up = await startUpstream('a')
  const agent = new Agent()
  t.teardown(async () => { await agent.destroy(); await up.close() })
  const closed = new Promise<void>((resolve) => up.server.once('connection', (socket) => socket.once('close', () => resolve())))
  const check = readPluginOptions({ targets: [up.url], healthCheck: true }).upstreams.get('default')!.healthCheck!
  const outcomes: ProbeOutcome[] = []
  const probe = new Probe(check, (outcome) => outcomes.push(outcome))
  probe.send(agent, { origin: up.url, path: '/health', method: 'GET', headers: {} })
  probe.cancel()
  probe.cancel()
  await closed
  t.equal(up.hits.length, 0, 'the connection was dropped before the request was written')
  t.same(outcomes, [])
})
