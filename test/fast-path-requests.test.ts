import { test } from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import http2 from 'node:http2'
import net, { type AddressInfo } from 'node:net'
import lolly from '../lib/index.js'
import { startUpstream, closedPort } from './helpers/upstreams.js'
import { get, rawRequest } from './helpers/raw-http.js'

// What reply.from() sends upstream and answers, on the fast path and on the calls it leaves to
// reply-from: the upstream and the client see the same requests and answers either way.

const echo = startUpstream.bind(null, 'echo', (req, res, body) => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }))
})

test('the request upstream: path and query as reply-from builds them, on both paths', async (t) => {
  const up = await echo()
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/same/*', (_req, reply) => reply.from())
  app.get('/empty-source', (_req, reply) => reply.from(''))
  app.get('/source', (_req, reply) => reply.from('/elsewhere'))
  app.get('/qs-fn', (_req, reply) => reply.from('/q', { queryString: (search, url) => `s=${search ?? '?'}&u=${encodeURIComponent(url ?? '')}` }))
  app.get('/qs-empty', (_req, reply) => reply.from('/q', { queryString: () => '' }))
  app.get('/qs-object', (_req, reply) => reply.from('/q', { queryString: { a: 'b c' } }))
  app.get('/source-query', (_req, reply) => reply.from('/q?x=1'))
  app.get('/upstream-fn', (_req, reply) => reply.from('/u', { getUpstream: (_r, base) => base }))
  app.get('/retry-delay', (_req, reply) => reply.from('/r', { retryDelay: () => null }))
  app.get('/method', (_req, reply) => reply.from('/m', { method: 'DELETE', timeout: 5000 }))
  app.post('/body', (_req, reply) => reply.from('/b'))
  app.post('/body-option', (_req, reply) => reply.from('/b', { body: { replaced: true } }))

  const url = async (path: string, init?: { method: 'POST', url: string, payload: object }) => (await app.inject(init ?? path)).json()
  t.equal((await url('/same/a/b.txt?x=1&y=%20')).url, '/same/a/b.txt?x=1&y=%20')
  t.equal((await url('/empty-source?z=1')).url, '/empty-source?z=1')
  t.equal((await url('/source?k=v')).url, '/elsewhere?k=v', 'the client\'s query goes along, as reply-from sends it')
  t.equal((await url('/qs-fn?k=v')).url, '/q?s=&u=%2Fqs-fn%3Fk%3Dv')
  t.equal((await url('/qs-empty?k=v')).url, '/q')
  t.equal((await url('/qs-object?k=v')).url, '/q?a=b%20c', 'reply-from encodes a queryString object')
  t.equal((await url('/source-query?k=v')).url, '/q?x=1', 'a source with a query: reply-from\'s URL rules')
  t.equal((await url('/upstream-fn')).url, '/u')
  t.equal((await url('/retry-delay')).url, '/r')
  t.match(await url('/method'), { method: 'DELETE', url: '/m' })
  t.match(await url('/body', { method: 'POST', url: '/body', payload: { a: 1 } }), { url: '/b', body: '{"a":1}' })
  t.match(await url('/body-option', { method: 'POST', url: '/body-option', payload: { a: 1 } }), { body: '{"replaced":true}' })
})

test('paths URL parsing would change are reply-from\'s: normalised, refused or rejected as before', async (t) => {
  const up = await echo()
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/*', (_req, reply) => reply.from())
  app.get('/dots', (_req, reply) => reply.from('/a/./b'))
  app.get('/double-dots', (_req, reply) => reply.from('/a..b'))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  t.equal((await app.inject('/dots')).json().url, '/a/b')
  t.equal((await app.inject('/double-dots')).json().url, '/a..b')
  t.equal(JSON.parse((await rawRequest(port, get('/x/%7e?q'))).body).url, '/x/%7e?q', 'percent-encoding kept as reply-from keeps it')
  t.equal(JSON.parse((await rawRequest(port, get('//evil.example/x'))).body).url, '//evil.example/x', 'kept under the base, as reply-from keeps it')
})

test('request headers: hop-by-hop and Connection-named ones dropped, the caller\'s hook last', async (t) => {
  const up = await echo()
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/plain', (_req, reply) => reply.from())
  app.get('/hook', (_req, reply) => reply.from('/hook', {
    rewriteRequestHeaders: (_req, headers) => ({ ...headers, 'x-mine': 'added', connection: 'x-gone, , x-also', 'x-gone': '1', 'x-also': '2' })
  }))
  app.get('/hook-te', (_req, reply) => reply.from('/hook-te', {
    rewriteRequestHeaders: (_req, headers) => ({ ...headers, 'transfer-encoding': 'chunked' })
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  const plain = JSON.parse((await rawRequest(port, get('/plain', 'X-Listed: 1\r\nX-Kept: 2\r\nConnection: X-Listed,, close\r\n'))).body)
  t.equal(plain.headers['x-listed'], undefined)
  t.equal(plain.headers['x-kept'], '2')
  t.equal(plain.headers.host, `127.0.0.1:${up.port}`, 'the target is told its own host')
  t.equal(plain.headers['x-forwarded-for'], '127.0.0.1')

  // Names that are hop-by-hop anyway: nothing more to drop.
  const keepAlive = await new Promise<{ headers: Record<string, string> }>((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path: '/plain', agent: false, headers: { connection: 'keep-alive, TE', 'x-kept': '3' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve(JSON.parse(body)))
    }).on('error', reject)
  })
  t.equal(keepAlive.headers['x-kept'], '3')
  t.equal(keepAlive.headers.connection, 'keep-alive', 'undici\'s own')

  const hooked = (await app.inject('/hook')).json()
  t.equal(hooked.headers['x-mine'], 'added')
  t.equal(hooked.headers['x-gone'], undefined, 'what a hook\'s Connection names is dropped, as reply-from drops it')
  t.equal(hooked.headers['x-also'], undefined)
  t.equal((await app.inject('/hook-te')).statusCode, 200, 'a hook\'s Transfer-Encoding is dropped (undici would refuse it)')
})

test('answers: 1xx skipped, headers through the caller\'s hook, Connection: close for an unread body', async (t) => {
  const early = net.createServer((socket) => {
    socket.on('data', () => socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Up: 1\r\n\r\nok'))
  })
  await new Promise<void>((resolve) => early.listen(0, '127.0.0.1', resolve))
  const app = Fastify()
  t.teardown(async () => { await app.close(); await new Promise((resolve) => early.close(resolve)) })
  await app.register(lolly, { targets: [`http://127.0.0.1:${(early.address() as AddressInfo).port}`] })
  app.get('/*', (_req, reply) => reply.from())
  app.get('/rewrite', (_req, reply) => reply.from('/rewrite', {
    rewriteHeaders: (headers) => ({ ...headers, ':pseudo': 'skipped', 'x-rewritten': 'yes' })
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  const res = await app.inject('/e')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'ok')
  t.equal(res.headers.link, undefined, 'nothing of the 1xx reaches the client')
  const rewritten = await app.inject('/rewrite')
  t.equal(rewritten.headers['x-rewritten'], 'yes')
  t.equal(rewritten.headers['x-up'], '1')
  // A GET with a body Fastify never reads: the connection cannot be reused.
  const unread = await rawRequest(port, 'GET /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n')
  t.equal(unread.status, 200)
  t.equal(unread.headers.connection, 'close')
})

test('errors before the answer: ours to the client, reply-from\'s error (undici\'s as its cause) to a caller\'s onError, nothing once sent', async (t) => {
  const port = await closedPort()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [`http://127.0.0.1:${port}`] })
  app.get('/default', (_req, reply) => reply.from())
  app.get('/theirs', (_req, reply) => reply.from('/theirs', {
    onError (reply, { error }) {
      reply.code(502).send({ code: (error as Error & { code: string }).code, cause: (error as Error & { cause: { code: string } }).cause.code })
    }
  }))
  app.post('/theirs-slow-path', (_req, reply) => reply.from('/theirs', {
    onError (reply, { error }) {
      reply.code(502).send({ code: (error as Error & { code: string }).code, cause: (error as Error & { cause: { code: string } }).cause.code })
    }
  }))
  app.get('/sent', (_req, reply) => {
    reply.from()
    return reply.send('mine')
  })
  t.equal((await app.inject('/default')).json().code, 'FST_LOLLY_BAD_GATEWAY')
  t.same((await app.inject('/theirs')).json(), { code: 'FST_REPLY_FROM_INTERNAL_SERVER_ERROR', cause: 'ECONNREFUSED' })
  t.same((await app.inject({ method: 'POST', url: '/theirs-slow-path', payload: { a: 1 } })).json(),
    { code: 'FST_REPLY_FROM_INTERNAL_SERVER_ERROR', cause: 'ECONNREFUSED' }, 'the same through reply-from (a request body)')
  const sent = await app.inject('/sent')
  t.equal(sent.body, 'mine', 'a reply sent meanwhile is left alone')
  await new Promise((resolve) => setTimeout(resolve, 50))
})

test('HTTP/2 clients are reply-from\'s (it filters their pseudo-headers)', async (t) => {
  const up = await echo()
  const app = Fastify({ http2: true })
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = http2.connect(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`)
  t.teardown(() => client.close())
  const body = await new Promise<string>((resolve, reject) => {
    const stream = client.request({ ':path': '/h2?x=1' })
    let data = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => { data += chunk })
    stream.on('end', () => resolve(data))
    stream.on('error', reject)
  })
  t.equal(JSON.parse(body).url, '/h2?x=1')
})
