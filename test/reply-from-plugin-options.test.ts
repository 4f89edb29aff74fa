import { test } from 'tap'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'

// reply-from's plugin options: those that keep their meaning behind a pool are passed on to the
// reply-from fastify-lolly hosts; every other one is refused by name, with what to use instead.

function formParser (app: FastifyInstance): void {
  // A parser that turns a form into an object, as @fastify/formbody does.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
}

test('contentTypesToEncode: bodies a parser made into objects are sent on as JSON, as reply-from does', async (t) => {
  const up = await startUpstream('up', (req, res, body) => res.end(JSON.stringify({ type: req.headers['content-type'], body })))
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  formParser(app)
  await app.register(lolly, { targets: [up.url], healthCheck: false, contentTypesToEncode: ['application/x-www-form-urlencoded'] })
  app.post('/*', (_req, reply) => reply.from())
  const res = await app.inject({ method: 'POST', url: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1&b=two' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { type: 'application/x-www-form-urlencoded', body: '{"a":"1","b":"two"}' })
})

test('without contentTypesToEncode such a body is refused before anything is sent, as with reply-from', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  formParser(app)
  await app.register(lolly, { targets: [up.url], healthCheck: false })
  app.post('/*', (_req, reply) => reply.from())
  const res = await app.inject({ method: 'POST', url: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' })
  t.equal(res.statusCode, 500)
  t.equal(up.hits.length, 0)
})

function capture (): { lines: Array<{ msg: string }>, stream: Writable } {
  const lines: Array<{ msg: string }> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()))
      done()
    }
  })
  return { lines, stream }
}

test('disableRequestLogging: false brings reply-from\'s request log lines back; they are off by default', async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  for (const disableRequestLogging of [undefined, false]) {
    const { lines, stream } = capture()
    const app = Fastify({ logger: { level: 'info', stream } })
    await app.register(lolly, { targets: [up.url], healthCheck: false, ...(disableRequestLogging === undefined ? {} : { disableRequestLogging }) })
    app.get('/*', (_req, reply) => reply.from())
    t.equal((await app.inject('/x')).statusCode, 200)
    await app.close()
    const messages = lines.map((line) => line.msg).filter((msg) => msg === 'fetching from remote server' || msg === 'response received')
    t.same(messages, disableRequestLogging === false ? ['fetching from remote server', 'response received'] : [], `disableRequestLogging ${String(disableRequestLogging)}`)
  }
})

test('cacheURLs and disableCache are taken and proxying works with either', async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  for (const options of [{ cacheURLs: 1 }, { disableCache: true }]) {
    const app = Fastify()
    await app.register(lolly, { targets: [up.url], healthCheck: false, ...options })
    app.get('/*', (_req, reply) => reply.from())
    t.equal((await app.inject('/a')).body, 'up GET /a')
    t.equal((await app.inject('/b')).body, 'up GET /b')
    t.equal((await app.inject('/a')).body, 'up GET /a')
    await app.close()
  }
})

test('reply-from options without a meaning behind a pool are refused by name, saying what to use', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['base', 'http://127.0.0.1:1', /targets: \[base\]/],
    ['http', {}, /undici connection pools/],
    ['http2', true, /HTTP\/1\.1 to targets/],
    ['undici', { connections: 10 }, /connections/],
    ['balancedPoolOptions', {}, /balancer/],
    ['globalAgent', true, /connection pool of its own/],
    ['destroyAgent', true, /closes its connection pools/],
    ['sessionTimeout', 1000, /HTTP\/2/],
    ['retryMethods', ['GET'], /retryDelay/],
    ['maxRetriesOn503', 3, /retry\.statuses/]
  ]
  for (const [key, value, instead] of cases) {
    const app = Fastify()
    const err = await app.register(lolly, { targets: ['http://127.0.0.1:1'], [key]: value } as never).ready().then(() => undefined, (e: Error) => e)
    t.match(err, { code: 'FST_LOLLY_INVALID_OPTION', message: new RegExp(`^${key} is an option of @fastify/reply-from`) }, key)
    t.match(err?.message, instead, `${key} says what to use instead`)
    await app.close()
  }
})

test('the reply-from options fastify-lolly takes are validated with their path', async (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ contentTypesToEncode: 'text/plain' }, 'contentTypesToEncode must be an array of media types'],
    [{ contentTypesToEncode: ['text/plain', 'Text/Plain'] }, 'contentTypesToEncode[1] must be a media type'],
    [{ contentTypesToEncode: ['text/plain; charset=utf-8'] }, 'contentTypesToEncode[0] must be a media type'],
    [{ disableRequestLogging: 'no' }, 'disableRequestLogging must be a boolean'],
    [{ cacheURLs: 0 }, 'cacheURLs must be an integer from 1 to 1000000'],
    [{ disableCache: 1 }, 'disableCache must be a boolean']
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    const err = await app.register(lolly, { targets: ['http://127.0.0.1:1'], ...options } as never).ready().then(() => undefined, (e: Error) => e)
    t.match(err, { code: 'FST_LOLLY_INVALID_OPTION' })
    t.ok(err?.message.startsWith(message), String(err?.message))
    await app.close()
  }
})
