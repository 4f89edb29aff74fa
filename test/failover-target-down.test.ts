import type { FastifyInstance } from 'fastify'
import type http from 'node:http'
import { test } from 'tap'
import { request } from 'undici'
import type { TryRecord } from '../lib/pool/pool-events.js'
import { eventually, startGateway } from './helpers/gateway.js'
import { startUpstream, type Upstream } from './helpers/upstreams.js'

// Requests waiting for their answer on a target that health takes out move on at once (retry.on
// 'target-down'), instead of each waiting out responseTimeout: what a host that vanished (packets
// dropped, test/faults/blackhole.test.ts) needs, shown here with a target that stops answering.

interface Stuck extends Upstream {
  held: http.ServerResponse[]
  /** Answers every held request, and those to come. */
  release (): void
}

/** A target that holds every request to /hang unanswered until released; /fail answers 503, /health 200 until `sick`. */
async function startStuck (state: { sick: boolean }): Promise<Stuck> {
  const held: http.ServerResponse[] = []
  let released = false
  const upstream = await startUpstream('stuck', (req, res) => {
    if (req.url === '/health') {
      res.statusCode = state.sick ? 500 : 200
      return res.end()
    }
    if (req.url === '/fail') {
      res.statusCode = 503
      return res.end('busy')
    }
    if (released) return res.end(`stuck ${req.method} ${req.url}`)
    held.push(res)
  })
  return Object.assign(upstream, {
    held,
    release () {
      released = true
      for (const res of held.splice(0)) res.end(`stuck ${res.req.method} ${res.req.url}`)
    }
  })
}

/** The catch-all proxy route, and each request's tries by its x-id header. */
function proxyRecordingTries (tries: Map<string, TryRecord[]>) {
  return (app: FastifyInstance) => {
    app.addHook('onResponse', async (req) => { tries.set(req.headers['x-id'] as string, req.lolly!.tries as TryRecord[]) })
    app.all('/*', (_req, reply) => reply.from())
  }
}

async function send (url: string, id: string, method = 'GET', path = '/hang') {
  const started = performance.now()
  const post = method === 'POST'
  const res = await request(`${url}${path}`, { method, headers: post ? { 'x-id': id, 'content-type': 'text/plain' } : { 'x-id': id }, body: post ? 'payload' : undefined })
  return { status: res.statusCode, body: await res.body.text(), ms: performance.now() - started }
}

test('passive ejection: GETs waiting on the target move on at once, uncharged; a route without target-down and a POST wait for their answer', async (t) => {
  const tries = new Map<string, TryRecord[]>()
  const stuck = await startStuck({ sick: false })
  const good = await startUpstream('good')
  const { app, url } = await startGateway({
    targets: [stuck.url, good.url],
    balancer: 'first',
    passive: { maxFails: 3 },
    // The three moves take retry slots too: no budget, so the third 503's own retry is not refused.
    retry: { budget: false },
    responseTimeout: 20_000
  }, (app) => {
    proxyRecordingTries(tries)(app)
    app.get('/nomove/*', { config: { upstream: { retry: { on: ['connect-error', 'reset', 'timeout', 'status'] } } } }, (_req, reply) => reply.from())
  })
  t.teardown(async () => { stuck.release(); await app.close(); await stuck.close(); await good.close() })
  const target = () => app.lolly.targets.find((each) => each.url === stuck.url)!

  const gets = [1, 2, 3].map((i) => send(url, `get${i}`))
  const post = send(url, 'post', 'POST')
  const waiting = send(url, 'nomove', 'GET', '/nomove/x')
  t.ok(await eventually(() => stuck.held.length === 5), 'five requests wait on the stuck target')

  // Three 503s (retried to the good target, so the clients get 200) eject it.
  for (const i of [1, 2, 3]) t.equal((await send(url, `fail${i}`, 'GET', '/fail')).status, 200)
  t.equal(target().state, 'ejected')
  const moved = await Promise.all(gets)
  for (const [i, result] of moved.entries()) {
    t.same([result.status, result.body], [200, 'good GET /hang'], `GET ${i + 1} answered by the other target`)
    t.ok(result.ms < 10_000, `long before responseTimeout (${result.ms.toFixed(0)} ms)`)
    t.match(tries.get(`get${i + 1}`), [{ target: stuck.url, error: 'FST_LOLLY_TARGET_DOWN' }, { target: good.url, status: 200 }])
  }
  t.equal(target().failures, 3, 'the moves are not charged to the target: only its three 503s')
  t.equal(target().inflight, 2, 'the POST (it reached the target) and the route without target-down still wait there')

  stuck.release()
  t.same([(await post).status, (await post).body], [200, 'stuck POST /hang'])
  t.same([(await waiting).status, (await waiting).body], [200, 'stuck GET /nomove/x'])
  t.equal(target().inflight, 0)
})

test('failed probes: a try on the connection and requests queued behind it (a POST too: it was never sent) move on', async (t) => {
  const tries = new Map<string, TryRecord[]>()
  const state = { sick: false }
  const stuck = await startStuck(state)
  const good = await startUpstream('good')
  const { app, url } = await startGateway({
    targets: [stuck.url, good.url],
    balancer: 'first',
    // One connection: the first request holds it, the others queue in undici, not yet sent.
    connections: 1,
    healthCheck: { interval: 100, timeout: 90, unhealthyThreshold: 1, jitter: 0 }
  }, proxyRecordingTries(tries))
  t.teardown(async () => { stuck.release(); await app.close(); await stuck.close(); await good.close() })
  const target = () => app.lolly.targets.find((each) => each.url === stuck.url)!

  const first = send(url, 'first')
  t.ok(await eventually(() => stuck.held.length === 1), 'the first request waits on the stuck target')
  const queued = [send(url, 'queued'), send(url, 'post', 'POST')]
  t.ok(await eventually(() => target().inflight === 3), 'two more queue behind it')
  state.sick = true
  t.ok(await eventually(() => target().state === 'unhealthy'), 'its probe fails')
  const results = await Promise.all([first, ...queued])
  t.same(results.map((result) => [result.status, result.body]), [[200, 'good GET /hang'], [200, 'good GET /hang'], [200, 'good POST /hang']])
  for (const id of ['first', 'queued', 'post']) t.match(tries.get(id), [{ target: stuck.url, error: 'FST_LOLLY_TARGET_DOWN' }, { target: good.url }])
  t.equal(stuck.held.length, 1, 'the queued requests never reached the stuck target')
  t.equal(target().inflight, 0)
})

test('a drained target is not down: its requests in flight finish there', async (t) => {
  const stuck = await startStuck({ sick: false })
  const good = await startUpstream('good')
  const { app, url } = await startGateway({ targets: [stuck.url, good.url], balancer: 'first' })
  t.teardown(async () => { stuck.release(); await app.close(); await stuck.close(); await good.close() })
  const pending = send(url, 'get')
  t.ok(await eventually(() => stuck.held.length === 1))
  const drained = app.lolly.drain('default', stuck.url)
  t.equal((await send(url, 'next', 'GET', '/other')).body, 'good GET /other', 'new requests go elsewhere')
  stuck.release()
  t.same([(await pending).status, (await pending).body], [200, 'stuck GET /hang'])
  await drained
})

test('no retry left: the request keeps waiting on the target that went down', async (t) => {
  const state = { sick: false }
  const stuck = await startStuck(state)
  const good = await startUpstream('good')
  const { app, url } = await startGateway({
    targets: [stuck.url, good.url],
    balancer: 'first',
    retry: false,
    healthCheck: { interval: 100, timeout: 90, unhealthyThreshold: 1, jitter: 0 }
  })
  t.teardown(async () => { stuck.release(); await app.close(); await stuck.close(); await good.close() })
  const pending = send(url, 'get')
  t.ok(await eventually(() => stuck.held.length === 1))
  state.sick = true
  t.ok(await eventually(() => app.lolly.targets[0].state === 'unhealthy'))
  t.equal(app.lolly.targets[0].inflight, 1, 'still waiting there')
  stuck.release()
  t.same([(await pending).status, (await pending).body], [200, 'stuck GET /hang'])
})
