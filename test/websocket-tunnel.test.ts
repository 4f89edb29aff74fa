import { test } from 'tap'
import { WebSocket } from 'ws'
import { until } from './helpers/fleet.js'
import { closed, connect, nextMessage, startGateway, startWsTarget } from './helpers/ws-targets.js'

test('a WebSocket tunnel carries text, binary, 1 MiB messages, ping/pong and close codes untouched, permessage-deflate and the chosen subprotocol included', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: true })
  t.teardown(async () => { await app.close(); await target.close() })

  const { ws, greeting, headers } = await connect(`${wsUrl}/chat?room=1`, ['refused', 'chat.v2', 'chat.v1'], { perMessageDeflate: true })
  t.equal(greeting.address, '127.0.0.2')
  t.equal(greeting.url, '/chat?room=1', 'path and query reach the target')
  t.equal(greeting.protocol, 'chat.v2', 'the target chose among every subprotocol the client offered')
  t.equal(ws.protocol, 'chat.v2', 'and the client got its choice')
  t.match(greeting.extensions, /permessage-deflate/, 'the two ends negotiated compression through the tunnel')
  t.match(ws.extensions, /permessage-deflate/)
  t.equal(greeting.xff, '127.0.0.1', 'X-Forwarded-For is set as for HTTP')
  t.equal(headers.connection, 'Upgrade')
  t.equal(headers.upgrade, 'websocket')
  t.type(headers['sec-websocket-accept'], 'string')
  t.notOk(target.handshakes[0]['proxy-connection'])

  ws.send('héllo')
  const text = await nextMessage(ws)
  t.equal(String(text.data), 'héllo')
  t.equal(text.binary, false)

  const big = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
  ws.send(big)
  const echoed = await nextMessage(ws)
  t.equal(echoed.binary, true)
  t.ok(echoed.data.equals(big), '1 MiB binary message comes back byte for byte')

  const pong = new Promise<string>((resolve) => ws.once('pong', (data) => resolve(String(data))))
  ws.ping('p1')
  t.equal(await pong, 'p1', 'the target answered the ping with a pong through the tunnel')
  t.equal(String((await nextMessage(ws)).data), 'pinged p1')

  const snapshot = app.lolly.targets[0]
  t.equal(snapshot.tunnels, 1, 'an open tunnel shows on its target')
  t.equal(snapshot.inflight, 1, 'and holds an in-flight slot')
  t.equal(snapshot.tunnelsOpened, 1)

  const code = new Promise<{ code: number, reason: string }>((resolve) => ws.once('close', (c, r) => resolve({ code: c, reason: String(r) })))
  ws.close(4001, 'done here')
  t.same(await code, { code: 4001, reason: 'done here' }, 'the close handshake went end to end')
  await until(() => app.lolly.targets[0].tunnels === 0, 2000, 'tunnel closed')
  t.equal(app.lolly.targets[0].inflight, 0, 'the slot is given back')
})

test('tunnels are balanced like requests, and least-connections counts open tunnels', async (t) => {
  const targets = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => startWsTarget(address)))
  const { app, wsUrl } = await startGateway({ targets: targets.map((target) => target.url), websocket: true, balancer: 'least-connections' })
  t.teardown(async () => { await app.close(); await Promise.all(targets.map((target) => target.close())) })

  const clients = []
  for (let i = 0; i < 6; i++) clients.push(await connect(`${wsUrl}/ws`))
  const counts = new Map<string, number>()
  for (const client of clients) counts.set(client.greeting.address, (counts.get(client.greeting.address) ?? 0) + 1)
  t.same([...counts.values()], [2, 2, 2], 'six long-lived tunnels spread two per target: each open tunnel counts as load')
  t.same(app.lolly.targets.map((s) => s.tunnels), [2, 2, 2])
  for (const client of clients) client.ws.close()
  await until(() => app.lolly.targets.every((s) => s.inflight === 0), 2000, 'all closed')
})

test('maxConnections caps tunnels on a target: the next handshake goes elsewhere', async (t) => {
  const a = await startWsTarget('127.0.0.2')
  const b = await startWsTarget('127.0.0.3')
  const { app, wsUrl } = await startGateway({ targets: [{ url: a.url, maxConnections: 1 }, { url: b.url, maxConnections: 1 }], websocket: true })
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })
  const first = await connect(`${wsUrl}/ws`)
  const second = await connect(`${wsUrl}/ws`)
  t.not(first.greeting.address, second.greeting.address)
  const third = new WebSocket(`${wsUrl}/ws`)
  const status = await new Promise<number>((resolve) => third.once('unexpected-response', (_req, res) => resolve(res.statusCode!)))
  t.equal(status, 503, 'both targets full: a real 503 answer, not a dropped socket')
  first.ws.close()
  await closed(first.ws)
  await until(() => app.lolly.targets[0].inflight + app.lolly.targets[1].inflight === 1, 2000, 'one closed')
  const fourth = await connect(`${wsUrl}/ws`)
  t.equal(fourth.greeting.address, first.greeting.address, 'the freed place takes the next tunnel')
  second.ws.close()
  fourth.ws.close()
})

test('bytes the client sends right behind its handshake reach the target', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, url } = await startGateway({ targets: [target.url], websocket: true })
  t.teardown(async () => { await app.close(); await target.close() })
  const { connect: connectTcp } = await import('node:net')
  const port = Number(new URL(url).port)
  const socket = connectTcp(port, '127.0.0.1')
  // A masked text frame "hi" written in the same packet as the request head.
  const frame = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2])
  socket.write(Buffer.concat([Buffer.from('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'), frame]))
  let received = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
  await until(() => received.includes(Buffer.from('hi')) && received.includes(Buffer.from('127.0.0.2')), 3000, 'echo of the early frame')
  t.match(received.toString('latin1'), /^HTTP\/1\.1 101 Switching Protocols\r\n/)
  t.match(received.toString('latin1'), /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i, 'the target computed the accept from the client key')
  socket.destroy()
})
