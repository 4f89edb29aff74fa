import { test } from 'tap'
import Fastify from 'fastify'
import compress from '@fastify/compress'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'
import { MAX_BUFFERED_BYTES } from '../lib/fastify/fast-answer.js'

// How the fast path hands an upstream's answer to the reply: small bodies of known length as one
// Buffer, everything else as a stream with backpressure, both through reply.send() and so through
// Fastify's onSend hooks.

/** One answer per request, written raw: the test decides framing, timing and breakage. */
async function rawUpstream (answer: (socket: net.Socket, request: string) => void): Promise<{ url: string, close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('data', (data) => answer(socket, data.toString('latin1')))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  }
}

test('@fastify/compress over a proxied route compresses small (buffered) and large (streamed) bodies', async (t) => {
  const small = 'small '.repeat(200)
  const large = 'large '.repeat(40_000)
  const up = await startUpstream('up', (req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.end(req.url === '/small' ? small : large)
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(compress, { global: true, threshold: 0 })
  await app.register(lolly, { targets: [up.url] })
  app.get('/*', (_req, reply) => reply.from())

  for (const [path, body] of [['/small', small], ['/large', large]]) {
    const res = await app.inject({ url: path, headers: { 'accept-encoding': 'gzip' } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-encoding'], 'gzip', `${path} compressed`)
    t.equal(gunzipSync(res.rawPayload).toString(), body)
  }
})

test('onResponse gets res with statusCode, headers and a readable stream, for any body', async (t) => {
  const up = await startUpstream('up', (req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.setHeader('x-up', 'yes')
    res.statusCode = 201
    res.end(req.url === '/big' ? 'b'.repeat(MAX_BUFFERED_BYTES * 2) : 'hello')
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  const seen: Array<{ statusCode: number, headers: Record<string, unknown>, readable: boolean }> = []
  app.get('/*', (_req, reply) => reply.from(undefined, {
    onResponse (_request, reply, res) {
      seen.push({ statusCode: res.statusCode, headers: (res as unknown as { headers: Record<string, unknown> }).headers, readable: typeof res.stream.pipe === 'function' })
      reply.header('x-seen', 'yes').send(res.stream)
    }
  }))
  app.get('/dropped', (_req, reply) => reply.from('/big', {
    onResponse (_request, reply, res) {
      // A caller that does not want the body: destroying it stops the upstream request.
      res.stream.destroy()
      reply.send('dropped')
    }
  }))
  const res = await app.inject('/small')
  t.equal(res.statusCode, 201)
  t.equal(res.body, 'hello')
  t.equal(res.headers['x-seen'], 'yes')
  t.match(seen[0], { statusCode: 201, headers: { 'x-up': 'yes', 'content-type': 'text/plain', 'content-length': '5' }, readable: true })
  t.equal((await app.inject('/big')).body.length, MAX_BUFFERED_BYTES * 2)
  t.equal((await app.inject('/dropped')).body, 'dropped')
  const [target] = app.lolly.upstreams.default.targets
  t.same([target.inflight, target.failures], [0, 0], 'the request stopped, and its target is not blamed')
})

test('what is buffered and what streams: reply.send() sends what reply-from\'s stream sent', async (t) => {
  const up = await rawUpstream((socket, request) => {
    const path = request.split(' ')[1]
    const head = (status: string, headers: string) => `HTTP/1.1 ${status}\r\n${headers}\r\n`
    if (path === '/no-type') socket.write(head('200 OK', 'Content-Length: 2\r\n') + 'ok')
    else if (path === '/chunked') socket.write(head('200 OK', 'Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n') + '2\r\nok\r\n0\r\n\r\n')
    else if (path === '/empty') socket.write(head('200 OK', 'Content-Type: text/plain\r\nContent-Length: 0\r\n'))
    else if (path === '/no-content') socket.write(head('204 No Content', 'Content-Type: text/plain\r\nContent-Length: 0\r\n'))
    else if (path === '/not-modified') socket.write(head('304 Not Modified', 'Content-Type: text/plain\r\nContent-Length: 0\r\n'))
    else if (path === '/rewritten') socket.write(head('200 OK', 'Content-Type: text/plain\r\nContent-Length: 2\r\n') + 'ok')
    else if (path === '/head' || request.startsWith('HEAD')) socket.write(head('200 OK', 'Content-Type: text/plain\r\nContent-Length: 9\r\n'))
    else {
      // A small body in two reads: collected, then sent as one.
      socket.write(head('200 OK', 'Content-Type: text/plain\r\nContent-Length: 4\r\n') + 'tw')
      setTimeout(() => socket.write('o!'), 20)
    }
  })
  const app = Fastify({ exposeHeadRoutes: false })
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/*', (_req, reply) => reply.from())
  app.head('/*', (_req, reply) => reply.from())
  app.get('/head', (_req, reply) => reply.from('/head', { method: 'HEAD' }))
  app.get('/rewritten', (_req, reply) => reply.from('/rewritten', { rewriteHeaders: (headers) => ({ ...headers, 'content-length': undefined }) }))

  const noType = await app.inject('/no-type')
  t.equal(noType.body, 'ok')
  t.equal(noType.headers['content-type'], undefined, 'no Content-Type is added')
  t.equal((await app.inject('/chunked')).body, 'ok')
  t.equal((await app.inject('/empty')).body, '')
  t.equal((await app.inject('/no-content')).statusCode, 204)
  const notModified = await app.inject('/not-modified')
  t.equal(notModified.statusCode, 304)
  t.equal((await app.inject({ method: 'HEAD', url: '/h' })).headers['content-length'], '9', 'a HEAD answer keeps its Content-Length')
  t.equal((await app.inject('/head')).statusCode, 200)
  t.equal((await app.inject('/rewritten')).body, 'ok')
  t.equal((await app.inject('/two')).body, 'two!')
})

test('a body that breaks off: a small one answers 502, a streamed one is cut, an odd status is reply-from\'s 502', async (t) => {
  const up = await rawUpstream((socket, request) => {
    const path = request.split(' ')[1]
    if (path === '/small') socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: 1\r\nContent-Length: 100\r\n\r\npart')
    else if (path === '/odd') socket.end('HTTP/1.1 999 Odd\r\nContent-Length: 100\r\n\r\npart')
    else socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n')
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  // A header the app sets before reply.from(), with a name the upstream also sends.
  app.addHook('onRequest', async (_req, reply) => { reply.header('x-up', 'mine') })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  const small = await app.inject('/small')
  t.equal(small.statusCode, 502)
  t.equal(small.json().code, 'FST_LOLLY_BAD_GATEWAY')
  t.equal(small.headers['x-up'], 'mine', 'none of the upstream\'s headers reached the reply; the app\'s own stay')
  t.equal((await app.inject('/odd')).json().code, 'FST_REPLY_FROM_BAD_GATEWAY')
  const cut = await new Promise<{ status: number, error: string }>((resolve) => {
    http.get(`http://127.0.0.1:${port}/stream`, (res) => {
      res.resume()
      res.on('error', (err) => resolve({ status: res.statusCode!, error: err.message }))
      res.on('end', () => resolve({ status: res.statusCode!, error: 'none' }))
    })
  })
  t.equal(cut.status, 200)
  t.equal(cut.error, 'aborted', 'the client sees the body cut, not a complete one')
})

test('a client that leaves: mid-body (buffered or streamed), and before reply.from() was even called', async (t) => {
  let release: () => void = () => {}
  let hits = 0
  const up = await rawUpstream((socket, request) => {
    hits++
    const path = request.split(' ')[1]
    if (path === '/streaming') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n')
      release()
      return
    }
    if (path === '/late') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nlate')
      return
    }
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npart')
    release()
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/slow', (_req, reply) => reply.from())
  app.get('/streaming', (_req, reply) => reply.from())
  app.get('/late', async (request, reply) => {
    // The client is gone before the call: nothing the client leaving could stop is running yet.
    await new Promise((resolve) => request.raw.socket.once('close', resolve))
    return reply.from()
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const pool = app.lolly.upstreams.default

  for (const path of ['/slow', '/streaming']) {
    const partSent = new Promise<void>((resolve) => { release = resolve })
    const client = net.connect(port, '127.0.0.1', () => client.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`))
    await partSent
    // Let the part reach the proxy before the client leaves.
    await new Promise((resolve) => setTimeout(resolve, 50))
    client.destroy()
  }
  const late = net.connect(port, '127.0.0.1', () => late.end('GET /late HTTP/1.1\r\nHost: x\r\n\r\n', () => late.destroy()))
  const settled = () => pool.targets[0].inflight === 0 && hits === 3
  for (let i = 0; i < 100 && !settled(); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(hits, 3)
  t.equal(pool.targets[0].inflight, 0, 'no request is left holding its target')
})

test('an answer nobody reads: a failure is no uncaught error, and the response\'s end stops it and frees its slot', async (t) => {
  let writes = 0
  const endless = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain')
    const timer = setInterval(() => { writes++; res.write('x'.repeat(1024)) }, 10)
    res.on('close', () => clearInterval(timer))
  })
  await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve))
  const app = Fastify()
  t.teardown(async () => {
    await app.close()
    endless.closeAllConnections()
    await new Promise((resolve) => endless.close(resolve))
  })
  await app.register(lolly, { targets: [`http://127.0.0.1:${(endless.address() as AddressInfo).port}`], healthCheck: false })
  // An onSend hook that replaces the payload: the upstream body is never read.
  app.get('/replaced', { onSend: async () => 'replaced' }, (_req, reply) => reply.from('/x'))
  app.post('/replaced', { onSend: async () => 'replaced' }, (_req, reply) => reply.from('/x'))
  // An onResponse that sends the body only later: the client leaves meanwhile.
  app.get('/later', (_req, reply) => reply.from('/x', {
    onResponse (_request, reply, res) { setTimeout(() => reply.send(res.stream), 200) }
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const inflight = () => app.lolly.targets[0].inflight

  t.equal((await app.inject('/replaced')).body, 'replaced', 'fast path')
  t.equal((await app.inject({ method: 'POST', url: '/replaced', headers: { 'content-type': 'text/plain' }, payload: 'b' })).body, 'replaced', 'reply-from\'s path')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(inflight(), 0, 'both upstream requests were stopped when their responses ended')

  const uncaught: Error[] = []
  const onUncaught = (err: Error) => { uncaught.push(err) }
  process.on('uncaughtException', onUncaught)
  t.teardown(() => { process.off('uncaughtException', onUncaught) })
  await new Promise<void>((resolve) => {
    const req = http.get(`http://127.0.0.1:${port}/later`)
    req.on('error', () => resolve())
    setTimeout(() => { req.destroy(); resolve() }, 50)
  })
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.same(uncaught, [], 'the body failed while nobody read it: no uncaught error')
  t.equal(inflight(), 0)
  t.ok(writes > 0)
})
