import net from 'node:net'
import { test } from 'tap'
import { until } from './helpers/fleet.js'
import { poolOf } from './helpers/internals.js'
import { closed, connect, exchangeText, refusedHandshake, startGateway, startWsTarget } from './helpers/ws-targets.js'

const HANDSHAKE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'

test('a client that resets its connection mid-handshake crashes nothing: the try stops, its place comes back, nobody is charged', async (t) => {
  const target = await startWsTarget('127.0.0.2', 'hang')
  const { app, url } = await startGateway({ targets: [target.url], websocket: { maxTunnels: 1 } })
  t.teardown(async () => { await app.close(); await target.close() })
  for (let i = 0; i < 3; i++) {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1')
    socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}`)
    await until(() => target.handshakes.length === i + 1, 2000, 'handshake sent on')
    socket.resetAndDestroy()
    await until(() => poolOf(app).tunnels.size === 0 && app.lolly.targets[0].inflight === 0, 2000, 'place and slot back')
  }
  t.same(app.lolly.targets.map((s) => [s.failures, s.handshakesFailed]), [[0, 0]])
  target.behaviour = 'upgrade'
  const { ws } = await connect(`${url.replace('http', 'ws')}/ws`)
  t.pass('the process is alive and the only place is free')
  ws.close()
})

test('a caller\'s rewriteRequestHeaders that throws answers 500 and holds no tunnel place', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: { maxTunnels: 1 } }, (app) => {
    app.get('/ws', (request, reply) => {
      reply.from(undefined, {
        rewriteRequestHeaders: (_request, headers) => {
          if (request.headers.authorization === undefined) throw new Error('no token')
          return headers
        }
      })
    })
  })
  t.teardown(async () => { await app.close(); await target.close() })
  for (let i = 0; i < 3; i++) t.equal((await refusedHandshake(`${wsUrl}/ws`)).status, 500)
  t.equal(poolOf(app).tunnels.size, 0)
  const { ws } = await connect(`${wsUrl}/ws`, undefined, { headers: { authorization: 'x' } })
  ws.close()
})

test('a drain waits for a handshake in flight; its tunnel, opened on the draining target, closes after drainTimeout', async (t) => {
  const target = await startWsTarget('127.0.0.2', 'hold')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: { drainTimeout: 200 } })
  t.teardown(async () => { await app.close(); await target.close() })
  const opening = connect(`${wsUrl}/ws`)
  await until(() => target.handshakes.length === 1, 2000, 'handshake in flight')
  let drained = false
  const drain = app.lolly.drain('default', target.url).then(() => { drained = true })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(drained, false, 'the drain waits for the handshake in flight')
  target.release()
  const { ws } = await opening
  const opened = Date.now()
  t.equal(await closed(ws), 1006, 'the late tunnel drains like the others')
  t.ok(Date.now() - opened >= 150, 'after drainTimeout, not at once')
  await drain
  t.equal(app.lolly.targets[0].inflight, 0)
})

test('a 101 that does not accept this handshake (no Upgrade: websocket, or a wrong Sec-WebSocket-Accept) opens nothing: 502', async (t) => {
  const liar = net.createServer((socket) => {
    socket.once('data', (request) => {
      const wrongUpgrade = String(request).includes('/wrong-upgrade')
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n' +
        (wrongUpgrade ? 'Upgrade: h2c\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' : 'Upgrade: websocket\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n') + '\r\n')
    })
  })
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.2', resolve))
  const { app, url } = await startGateway({ targets: [`http://127.0.0.2:${(liar.address() as net.AddressInfo).port}`], websocket: true })
  t.teardown(async () => { await app.close(); await new Promise((resolve) => liar.close(resolve)) })
  for (const path of ['/wrong-accept', '/wrong-upgrade']) {
    const answer = await exchangeText(url, `GET ${path} HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}`)
    t.match(answer, /^HTTP\/1\.1 502 Bad Gateway\r\n[^]*answered 101 without accepting this WebSocket handshake/, path)
  }
  t.equal(app.lolly.targets[0].handshakesFailed, 2)
  t.equal(app.lolly.targets[0].inflight, 0)
  t.equal(poolOf(app).tunnels.size, 0)
})

test('handshake paths: percent-encoding kept, a source\'s own query or the request\'s, anything that could leave the base path refused', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [`${target.url}/base`], websocket: true }, (app) => {
    app.get('/src-query/*', (_request, reply) => { reply.from('/fixed?mine=1') })
    app.get('/src/*', (_request, reply) => { reply.from('/fixed') })
    app.get('/bad-source/*', (_request, reply) => { reply.from('/x%zz') })
    app.get('/*', (_request, reply) => { reply.from() })
  })
  t.teardown(async () => { await app.close(); await target.close() })
  const seen = async (path: string): Promise<string> => {
    const { ws, greeting } = await connect(`${wsUrl}${path}`)
    ws.close()
    return greeting.url
  }
  t.equal(await seen('/room%20a?x=1'), '/base/room%20a?x=1')
  t.equal(await seen('/src-query/a?theirs=2'), '/base/fixed?mine=1')
  t.equal(await seen('/src/a?theirs=2'), '/base/fixed?theirs=2')
  // Written on a raw socket: a WebSocket client's URL parser would resolve some of them first.
  for (const path of ['/a/%2e%2e/b', '/a/%2F..', '/a%5c..', '/a/./b', '/bad-source/x']) {
    const answer = await exchangeText(wsUrl, `GET ${path} HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}`)
    t.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n[^]*FST_LOLLY_BAD_REQUEST_TARGET/, path)
  }
  t.equal(target.handshakes.length, 3, 'only the three good ones reached the target')
})

test('a handshake after the pool began closing is a 503 saying so', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: true })
  t.teardown(async () => { await app.close(); await target.close() })
  poolOf(app).tunnels.closeAll()
  const answer = await refusedHandshake(`${wsUrl}/ws`)
  t.equal(answer.status, 503)
  t.match(JSON.parse(answer.body), { code: 'FST_LOLLY_POOL_CLOSED' })
})

test('a failed try of a target removed before the handshake ended is not counted on anyone', async (t) => {
  const refusing = net.createServer()
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.2', resolve))
  const dead = `http://127.0.0.2:${(refusing.address() as net.AddressInfo).port}`
  await new Promise((resolve) => refusing.close(resolve))
  const slow = await startWsTarget('127.0.0.3', 'hang')
  const { app, wsUrl } = await startGateway({ targets: [dead, slow.url], balancer: 'first', websocket: { handshakeTimeout: 500 } })
  t.teardown(async () => { await app.close(); await slow.close() })
  const answer = refusedHandshake(`${wsUrl}/ws`)
  await until(() => slow.handshakes.length === 1, 2000, 'moved to the slow target')
  await app.lolly.removeTarget('default', dead)
  t.equal((await answer).status, 504)
  t.same(app.lolly.targets.map((s) => [s.url, s.handshakesFailed]), [[slow.url, 1]])
})
