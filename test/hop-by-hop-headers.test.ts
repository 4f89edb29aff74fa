import { test } from 'tap'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'
import { get, rawRequest } from './helpers/raw-http.js'
import { util } from 'undici'
import { parseWithoutHopByHop, stripHopByHop } from '../lib/http/hop-by-hop.js'

test('hop-by-hop headers cross the proxy in neither direction', async (t) => {
  const target = await startUpstream('target', (_req, res) => {
    res.setHeader('keep-alive', 'timeout=99')
    res.setHeader('proxy-authenticate', 'Basic')
    res.setHeader('trailer', 'x-t')
    res.setHeader('x-private', 'hidden')
    res.setHeader('x-public', 'shown')
    res.setHeader('connection', 'x-private')
    res.end('ok')
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url] })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  const res = await rawRequest(port, get('/h',
    'Keep-Alive: timeout=5\r\nUpgrade: foo\r\nTE: trailers\r\nProxy-Authorization: secret\r\nProxy-Connection: keep-alive\r\n' +
    'X-Secret: s\r\nConnection: x-secret, x-forwarded-for\r\n'))
  t.equal(res.status, 200, 'a request carrying hop-by-hop headers is proxied (undici would refuse Keep-Alive/Upgrade)')
  const sent = target.hits[0].headers
  for (const name of ['keep-alive', 'upgrade', 'te', 'proxy-authorization', 'proxy-connection', 'x-secret']) {
    t.equal(sent[name], undefined, `${name} did not reach the target`)
  }
  t.equal(sent['x-forwarded-for'], '127.0.0.1', 'Connection: x-forwarded-for cannot strip a header the proxy adds')
  for (const name of ['keep-alive', 'proxy-authenticate', 'trailer', 'x-private']) {
    t.equal(res.headers[name], undefined, `${name} did not reach the client`)
  }
  t.equal(res.headers['x-public'], 'shown')
})

test('an answer parsed without hop-by-hop headers in one pass equals parsing then stripping them', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['a Node upstream\'s answer', ['Content-Type', 'text/plain', 'Content-Length', '2', 'Date', 'x', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5']],
    ['repeated names', ['Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'SET-COOKIE', 'c=3', 'x-a', '1', 'X-A', '2']],
    ['names an object already has', ['__proto__', 'p', 'constructor', 'c', 'toString', 't', 'constructor', 'c2', 'hasOwnProperty', 'h']],
    ['names the Connection header lists', ['X-Private', 'p', 'x-forwarded-for', '1.2.3.4', 'x-kept', 'k', 'Connection', 'X-Private, x-forwarded-for, keep-alive, , TE', 'TE', 'trailers']],
    ['two Connection headers', ['x-private', 'p', 'connection', 'x-private', 'Connection', 'close']],
    ['a latin1 value', ['x-latin', 'caf\u00e9', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Trailer', 'x', 'Expect', '100-continue', 'Proxy-Authenticate', 'Basic', 'Proxy-Connection', 'keep-alive']]
  ]
  for (const [what, pairs] of cases) {
    const raw = () => pairs.map((item) => Buffer.from(item, 'latin1'))
    const expected = stripHopByHop(util.parseHeaders(raw()) as Record<string, string | string[]>)
    const got = parseWithoutHopByHop(raw())
    t.same(got, expected, what)
    t.same(Object.keys(got), Object.keys(expected), `${what}: the same names in the same order`)
    t.equal(Object.getPrototypeOf(got), Object.prototype, `${what}: a plain object`)
  }
  t.same(parseWithoutHopByHop(['X-String', 'given as a string']), { 'x-string': 'given as a string' }, 'strings are taken as they are')
})

test('a header named Close is dropped by Connection: close in both directions, on both paths', async (t) => {
  const target = await startUpstream('target', (_req, res) => {
    res.setHeader('close', 'from the target')
    res.setHeader('connection', 'close')
    res.setHeader('content-type', 'text/plain')
    res.end('ok')
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url] })
  app.get('/*', (_req, reply) => reply.from())
  // A request body takes reply-from's path (fast-request.ts says which calls take which).
  app.post('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  for (const [path, request] of [
    ['the fast path', get('/fast', 'Close: from the client\r\n')],
    ['reply-from\'s path', 'POST /slow HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nClose: from the client\r\nConnection: close\r\n\r\nx']
  ]) {
    const res = await rawRequest(port, request)
    t.equal(res.status, 200, `${path}: answered`)
    t.equal(res.headers.close, undefined, `${path}: the target's Close header did not reach the client`)
    t.equal(target.hits[target.hits.length - 1].headers.close, undefined, `${path}: the client's Close header did not reach the target`)
  }
})

test('a header named __proto__ stays a header when hop-by-hop ones are dropped beside it', async (t) => {
  const raw = ['__proto__', 'x', '__proto__', 'y', 'Keep-Alive', 'timeout=5', 'x-kept', 'k'].map((item) => Buffer.from(item))
  for (const [what, got] of [
    ['in one pass', parseWithoutHopByHop(raw)],
    ['parsed, then stripped', stripHopByHop(util.parseHeaders(raw) as Record<string, string | string[]>)],
    ['parsed, then copied without them', stripHopByHop(util.parseHeaders(raw) as Record<string, string | string[]>, true)]
  ] as const) {
    t.equal(Object.getPrototypeOf(got), Object.prototype, `${what}: the prototype is untouched`)
    t.same(Object.keys(got), ['__proto__', 'x-kept'], `${what}: the same headers, and no header named 0 or 1`)
    t.same(Object.getOwnPropertyDescriptor(got, '__proto__')?.value, ['x', 'y'], `${what}: its values kept`)
  }
})
