import net from 'node:net'
import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { until } from './helpers/fleet.js'
import { connect, exchangeText, refusedHandshake, startGateway, startWsTarget } from './helpers/ws-targets.js'

test('an h2c upgrade (or any upgrade but websocket) is never tunnelled: it is served as the HTTP/1.1 request it also is', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, url } = await startGateway({ targets: [target.url], websocket: true }, (app) => { app.all('/*', (_request, reply) => { reply.from() }) })
  t.teardown(async () => { await app.close(); await target.close() })

  // What `curl --http2 -d hello http://...` sends; then, once answered, another upgrade on the same connection.
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1')
  let answers = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => { answers += chunk })
  socket.write('POST /admin HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n' +
    'Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello')
  await until(() => answers.endsWith('plain /admin'), 3000, 'first answer')
  socket.write('GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: TLS/1.2\r\n\r\n')
  await new Promise((resolve) => socket.on('close', resolve))
  const responses = answers.split(/(?=HTTP\/1\.1 )/)
  t.equal(responses.length, 2, 'two answers on one connection: it stayed a keep-alive HTTP/1.1 one')
  t.match(responses[0], /^HTTP\/1\.1 200 OK\r\n[^]*127\.0\.0\.2 plain \/admin$/, 'answered in HTTP/1.1, as curl --http2 on an http:// URL expects')
  t.match(responses[1], /^HTTP\/1\.1 200 OK\r\n[^]*plain \/x$/)
  t.equal(target.plain.length, 2)
  t.equal(target.plain[0].body, 'hello', 'its body was read and sent on')
  t.notOk(target.plain[0].headers.upgrade, 'the target never saw the Upgrade header')
  t.notOk(target.plain[0].headers['http2-settings'], 'nor what Connection listed')
  t.equal(target.handshakes.length, 0)

  // An upgrade pipelined behind a request still being answered: that answer, then the connection ends.
  const pipelined = await exchangeText(url, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  t.match(pipelined, /^HTTP\/1\.1 200 OK\r\n[^]*127\.0\.0\.2 plain \/slow$/, 'the answer in flight, and nothing that could come out of order')
  t.equal(target.handshakes.length, 0)
})

test('a WebSocket upgrade to a route that does not tunnel them is refused with 403; an upgrade with no route is a 404', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: true }, (app) => {
    app.get('/ws', (_request, reply) => { reply.from() })
    app.get('/api/*', { config: { upstream: { websocket: false } } }, (_request, reply) => { reply.from() })
    app.get('/hello', async () => 'hi')
  })
  t.teardown(async () => { await app.close(); await target.close() })

  const refused = await refusedHandshake(`${wsUrl}/api/feed`)
  t.equal(refused.status, 403)
  t.match(JSON.parse(refused.body), { code: 'FST_LOLLY_WEBSOCKET_NOT_ENABLED', message: /GET \/api\/\*/ })
  const missing = await refusedHandshake(`${wsUrl}/nowhere`)
  t.equal(missing.status, 404)
  const plain = await refusedHandshake(`${wsUrl}/hello`)
  t.same([plain.status, plain.body], [200, 'hi'], 'a route of the app\'s own answers as it always does')
  t.equal(target.handshakes.length, 0)
  const { ws } = await connect(`${wsUrl}/ws`)
  ws.close()
})

test('a route may tunnel WebSocket on a pool that does not; the pool\'s own routes still do not', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url] }, (app) => {
    app.get('/live', { config: { upstream: { websocket: true } } }, (_request, reply) => { reply.from() })
    app.get('/*', (_request, reply) => { reply.from() })
  })
  t.teardown(async () => { await app.close(); await target.close() })
  const { ws, greeting } = await connect(`${wsUrl}/live`)
  t.equal(greeting.url, '/live')
  ws.close()
  t.equal((await refusedHandshake(`${wsUrl}/other`)).status, 403)
})

test('the route\'s hooks run for the handshake: a failed authentication answers 401 and nothing reaches a target', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: true }, (app) => {
    app.get('/ws', {
      onRequest: async (request, reply) => {
        if (request.headers.authorization !== 'Bearer good') await reply.code(401).send({ error: 'who are you' })
      }
    }, (_request, reply) => { reply.from() })
  })
  t.teardown(async () => { await app.close(); await target.close() })
  const denied = await refusedHandshake(`${wsUrl}/ws`)
  t.same([denied.status, JSON.parse(denied.body)], [401, { error: 'who are you' }])
  t.equal(target.handshakes.length, 0)
  const { ws } = await connect(`${wsUrl}/ws`, undefined, { headers: { authorization: 'Bearer good' } })
  t.equal(target.handshakes[0].authorization, 'Bearer good', 'headers reach the target as for HTTP')
  ws.close()
})

test('maxTunnels caps a pool: the next handshake is a 503 with Retry-After; a path that would leave the target is a 400', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: { maxTunnels: 2 } })
  t.teardown(async () => { await app.close(); await target.close() })
  const a = await connect(`${wsUrl}/ws`)
  const b = await connect(`${wsUrl}/ws`)
  const over = await refusedHandshake(`${wsUrl}/ws`)
  t.equal(over.status, 503)
  t.equal(over.headers['retry-after'], '1')
  t.match(JSON.parse(over.body), { code: 'FST_LOLLY_TOO_MANY_TUNNELS', message: 'Upstream "default" has 2 WebSocket tunnels open, its maxTunnels' })
  a.ws.close()
  await until(() => app.lolly.targets[0].tunnels === 1, 2000, 'one closed')
  const c = await connect(`${wsUrl}/ws`)
  b.ws.close()
  c.ws.close()

  const escaped = await exchangeText(wsUrl.replace('ws:', 'http:'), 'GET /a/%2e%2e/b HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  t.match(escaped, /^HTTP\/1\.1 400 Bad Request\r\n[^]*FST_LOLLY_BAD_REQUEST_TARGET/)
})

test('a client that sends its handshake a byte at a time is bounded by the server\'s headersTimeout, and holds up nobody else', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const app = Fastify({ http: { headersTimeout: 1500, requestTimeout: 1500, connectionsCheckingInterval: 200 } } as never)
  await app.register(lolly, { targets: [target.url], websocket: true })
  app.get('/ws', (_request, reply) => { reply.from() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close(); await target.close() })
  const port = (app.server.address() as net.AddressInfo).port
  const slow = net.connect(port, '127.0.0.1')
  const head = 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
  let sent = 0
  const drip = setInterval(() => { if (sent < head.length) slow.write(head[sent++]) }, 1000)
  let answer = ''
  slow.on('data', (chunk) => { answer += String(chunk) })
  const ended = new Promise((resolve) => slow.on('close', resolve))
  const started = Date.now()
  const { ws } = await connect(`ws://127.0.0.1:${port}/ws`)
  t.ok(Date.now() - started < 1000, 'another client\'s tunnel opened at once')
  await ended
  clearInterval(drip)
  t.ok(Date.now() - started < 4000, 'the slow handshake was cut within the timeout')
  t.match(answer, /^HTTP\/1\.1 408/, 'with a 408')
  t.equal(target.handshakes.length, 1, 'only the whole handshake reached a target')
  ws.send('still here')
  await new Promise((resolve) => ws.once('message', resolve))
  t.pass('and the open tunnel outlived the server\'s request timeout')
  ws.close()
})
