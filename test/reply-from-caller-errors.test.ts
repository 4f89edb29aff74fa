import { test, type Test } from 'tap'
import Fastify from 'fastify'
import type { FastifyReplyFromHooks } from '@fastify/reply-from'
import lolly from '../lib/index.js'
import { closedPort, startUpstream } from './helpers/upstreams.js'

// A caller's onError and retryDelay get the errors reply-from alone would give them, so code written
// for reply-from keeps working; the client of a route without onError still gets ours (error-mapping).

type RetryDelay = NonNullable<FastifyReplyFromHooks['retryDelay']>
type Caught = { code?: string, statusCode?: number, cause?: { code?: string } }

async function errorOf (t: Test, targets: Array<string | { url: string, down: boolean }>, options: Record<string, unknown> = {}): Promise<Caught> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets, healthCheck: false, ...options })
  let caught: Caught | undefined
  app.get('/*', (_req, reply) => reply.from(undefined, {
    onError (reply, { error }) {
      caught = error as Caught
      reply.code(599).send('mine')
    }
  }))
  const res = await app.inject('/x')
  t.equal(res.statusCode, 599, 'the caller\'s onError answered')
  return caught!
}

test('onError: a refused connection is reply-from\'s 500 with undici\'s error as cause', async (t) => {
  const error = await errorOf(t, [`http://127.0.0.1:${await closedPort()}`])
  t.match(error, { code: 'FST_REPLY_FROM_INTERNAL_SERVER_ERROR', statusCode: 500, cause: { code: 'ECONNREFUSED' } })
})

test('onError: a response that does not come in time is reply-from\'s 504', async (t) => {
  const slow = await startUpstream('slow', () => { /* never answers */ })
  t.teardown(() => slow.close())
  const error = await errorOf(t, [slow.url], { responseTimeout: 50 })
  t.match(error, { code: 'FST_REPLY_FROM_GATEWAY_TIMEOUT', statusCode: 504, cause: { code: 'UND_ERR_HEADERS_TIMEOUT' } })
})

test('onError: a connection closed before the response is reply-from\'s UND_ERR_SOCKET', async (t) => {
  const reset = await startUpstream('reset', (req) => { req.socket.destroy() })
  t.teardown(() => reset.close())
  const error = await errorOf(t, [reset.url])
  t.match(error, { code: 'UND_ERR_SOCKET', cause: { code: 'UND_ERR_SOCKET' } })
})

test('onError: an error of the pool\'s own (no target can take the request) reaches it as ours', async (t) => {
  const error = await errorOf(t, [{ url: `http://127.0.0.1:${await closedPort()}`, down: true }])
  t.match(error, { code: 'FST_LOLLY_NO_AVAILABLE_TARGET', statusCode: 503 })
})

test('retryDelay sees undici\'s UND_ERR_SOCKET, so socket-error retry logic written for reply-from fires', async (t) => {
  let requests = 0
  const flaky = await startUpstream('flaky', (req, res) => {
    // The first request's connection is cut before any answer; the second is answered.
    if (++requests === 1) req.socket.destroy()
    else res.end('second time')
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await flaky.close() })
  // One target and no failover of the pool's: only the caller's retry can save the request.
  await app.register(lolly, { targets: [flaky.url], healthCheck: false, passive: false, retry: false })
  const seen: Array<string | undefined> = []
  app.get('/*', (_req, reply) => reply.from(undefined, {
    retryDelay: ({ err, attempt }) => {
      seen.push((err as { code?: string } | null)?.code)
      return (err as { code?: string } | null)?.code === 'UND_ERR_SOCKET' && attempt < 1 ? 10 : null
    }
  }))
  const res = await app.inject('/x')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'second time')
  t.same(seen, ['UND_ERR_SOCKET', undefined])
})

test('retriesCount: an idempotent request without a body whose connection broke is sent again, as reply-from does', async (t) => {
  let requests = 0
  const flaky = await startUpstream('flaky', (req, res) => {
    // Every odd request's connection is cut before any answer.
    if (++requests % 2 === 1) req.socket.destroy()
    else res.end(`answered ${req.method}`)
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await flaky.close() })
  await app.register(lolly, { targets: [flaky.url], healthCheck: false, passive: false, retry: false })
  app.all('/count/:n', (request, reply) => reply.from('/x', { retriesCount: Number((request.params as { n: string }).n) }))
  const retried = await app.inject('/count/1')
  t.equal(retried.statusCode, 200)
  t.equal(retried.body, 'answered GET')
  t.equal(requests, 2)
  requests = 0
  t.equal((await app.inject('/count/0')).statusCode, 502, 'retriesCount 0: no retry')
  requests = 0
  t.equal((await app.inject({ method: 'POST', url: '/count/3', headers: { 'content-type': 'text/plain' }, payload: 'body' })).statusCode, 502, 'a request with a body is not retried')
  t.equal(requests, 1)
  requests = 0
  t.equal((await app.inject({ method: 'DELETE', url: '/count/3' })).statusCode, 502, 'nor a method reply-from does not retry')
  t.equal(requests, 1)
})

test('a caller\'s retryDelay gets a getDefaultDelay that decides as reply-from\'s: socket errors up to retriesCount, a GET answered 503 up to maxRetriesOn503', async (t) => {
  let requests = 0
  const flaky = await startUpstream('flaky', (req, res) => {
    requests++
    if (req.url === '/socket' && requests === 1) return req.socket.destroy()
    if (req.url === '/busy' && requests <= 2) { res.statusCode = 503; return res.end('busy') }
    if (req.url === '/always-busy') { res.statusCode = 503; return res.end('busy') }
    if (req.url === '/hinted') res.setHeader('retry-after', '1')
    res.end(`answered ${req.url}`)
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await flaky.close() })
  await app.register(lolly, { targets: [flaky.url], healthCheck: false, passive: false, retry: false })
  app.get('/socket', (_req, reply) => reply.from(undefined, { retriesCount: 2, retryDelay: ({ req, res, err, attempt, getDefaultDelay }) => getDefaultDelay(req, res, err, attempt) }))
  app.get('/busy', (_req, reply) => reply.from(undefined, { retryDelay: ({ req, res, err, attempt, getDefaultDelay }) => getDefaultDelay(req, res, err, attempt) }))
  app.get('/null-body', (_req, reply) => reply.from('/socket', { body: null, retriesCount: 1 }))
  const defaultDelay: RetryDelay = ({ req, res, err, attempt, getDefaultDelay }) => getDefaultDelay(req, res, err, attempt)
  // maxRetriesOn503 is a call option in reply-from's code, though its types list it among the plugin's.
  app.get('/always-busy', (_req, reply) => reply.from(undefined, { maxRetriesOn503: 2, retryDelay: defaultDelay } as FastifyReplyFromHooks))
  app.get('/hinted', (_req, reply) => reply.from(undefined, { retryDelay: ({ req, res, err, attempt, getDefaultDelay }) => getDefaultDelay(req, res, err, attempt) }))
  t.equal((await app.inject('/socket')).body, 'answered /socket')
  t.equal(requests, 2)
  requests = 0
  t.equal((await app.inject('/busy')).body, 'answered /busy', 'two 503s, then the answer')
  t.equal(requests, 3)
  requests = 0
  t.equal((await app.inject('/null-body')).body, 'answered /socket', 'content-length 0 is no body: retried as reply-from does')
  requests = 0
  const busy = await app.inject('/always-busy')
  t.equal(busy.statusCode, 503, 'maxRetriesOn503 reached: the last 503 is the answer')
  t.equal(requests, 3, 'sent once and retried twice')
  requests = 0
  t.equal((await app.inject('/hinted')).statusCode, 200, 'a Retry-After on an answer that is not a 503 retries nothing')
  t.equal(requests, 1)
})
