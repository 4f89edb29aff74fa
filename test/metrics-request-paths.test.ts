import { test, type Test } from 'tap'
import http from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { request } from 'undici'
import lolly from '../lib/index.js'
import type { LollyOptions } from '../lib/options/types.js'
import { startUpstream, type Upstream, type UpstreamHandler } from './helpers/upstreams.js'
import { parseSamples, sampleValue, type Sample } from './helpers/prometheus-text.js'

// Tries are counted where the pool settles a request, not in a Fastify hook: so requests that
// never reach onResponse (the client left) and requests that never went through Fastify (sent to
// the pool as an undici dispatcher) are counted too, each try exactly once.

async function upstream (t: Test, name: string, handler?: UpstreamHandler): Promise<Upstream> {
  const started = await startUpstream(name, handler)
  t.teardown(() => started.close())
  return started
}

async function proxy (t: Test, options: LollyOptions, route?: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance, registry: Registry }> {
  const registry = new Registry()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { ...options, metrics: { registry } })
  if (route === undefined) app.all('/*', (_req, reply) => reply.from())
  else route(app)
  return { app, registry }
}

async function scrape (registry: Registry): Promise<Sample[]> {
  return parseSamples(await registry.metrics())
}

async function until (what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('a client that leaves before the answer: its try is counted as code "aborted", outside the latency histogram', async (t) => {
  const hang = await upstream(t, 'hang', () => {})
  const { app, registry } = await proxy(t, { targets: [hang.url] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const req = http.get({ port, host: '127.0.0.1', path: '/slow', agent: false })
  req.on('error', () => {})
  await until('the target got the request', () => hang.hits.length === 1)
  req.destroy()
  await until('the try ended', () => app.lolly.upstreams.default.targets[0].inflight === 0)

  const samples = await scrape(registry)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: hang.url, code: 'aborted' }), 1)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: hang.url, code: 'error' }), undefined, 'not an error of the target')
  t.equal(sampleValue(samples, 'lolly_request_duration_seconds_count', { target: hang.url }), undefined,
    'the time it took is the client\'s, not the target\'s latency')
})

test('a client that leaves after the answer started: the try keeps its status', async (t) => {
  const streaming = await upstream(t, 'streaming', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first chunk')
  })
  const { app, registry } = await proxy(t, { targets: [streaming.url] })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const req = http.get({ port, host: '127.0.0.1', path: '/stream', agent: false })
  req.on('error', () => {})
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve))
  t.equal(res.statusCode, 200)
  req.destroy()
  await until('the try ended', () => app.lolly.upstreams.default.targets[0].inflight === 0)

  const samples = await scrape(registry)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: streaming.url, code: '200' }), 1)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: streaming.url, code: 'aborted' }), undefined)
  t.equal(sampleValue(samples, 'lolly_request_duration_seconds_count', { target: streaming.url }), 1)
})

test('requests sent to a pool as an undici dispatcher are counted like proxied ones', async (t) => {
  const one = await upstream(t, 'one')
  const busy = await upstream(t, 'busy', (_req, res) => { res.statusCode = 503; res.end('busy') })
  const { app, registry } = await proxy(t, { targets: [busy.url, one.url], balancer: 'first', passive: false })
  await app.ready()
  const res = await request('http://pool/direct', { dispatcher: app.lolly.upstreams.default.dispatcher })
  t.equal(await res.body.text(), 'one GET /direct')

  const samples = await scrape(registry)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: busy.url, code: '503' }), 1)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: one.url, code: '200' }), 1)
  t.equal(sampleValue(samples, 'lolly_retries_total', { upstream: 'default', reason: '503' }), 1)
})

test('a request reply-from sends again (its retryDelay) goes back to the one target and counts each try once', async (t) => {
  const busy = await upstream(t, 'busy', (_req, res) => { res.statusCode = 503; res.end('busy') })
  const { app, registry } = await proxy(t, { targets: [busy.url], retry: false, passive: false }, (app) => {
    app.get('/*', (_req, reply) => reply.from(undefined, { retryDelay: ({ attempt }) => attempt < 2 ? 1 : null }))
  })
  const res = await app.inject('/again')
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'busy', 'the target\'s own answer, not "no target can take the request"')
  t.equal(busy.hits.length, 3, 'sent three times')

  const samples = await scrape(registry)
  t.equal(sampleValue(samples, 'lolly_requests_total', { target: busy.url, code: '503' }), 3, 'three tries, not 1 + 2 + 3')
  t.equal(sampleValue(samples, 'lolly_request_duration_seconds_count', { target: busy.url }), 3)
})
