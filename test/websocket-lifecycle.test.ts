import { createHash } from 'node:crypto'
import net from 'node:net'
import { test } from 'tap'
import WebSocket from 'ws'
import { until } from './helpers/fleet.js'
import { closed, connect, startGateway, startWsTarget } from './helpers/ws-targets.js'

test('a target killed mid-tunnel: the client sees its connection end, the slot is given back, the next tunnel goes elsewhere', async (t) => {
  const a = await startWsTarget('127.0.0.2')
  const b = await startWsTarget('127.0.0.3')
  const { app, wsUrl } = await startGateway({ targets: [a.url, b.url], balancer: 'first', websocket: true })
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })
  const { ws, greeting } = await connect(`${wsUrl}/ws`)
  t.equal(greeting.address, '127.0.0.2')
  await a.kill()
  t.equal(await closed(ws), 1006, 'an abnormal closure, as from the target itself')
  await until(() => app.lolly.targets[0].inflight === 0, 2000, 'slot given back')
  t.equal(app.lolly.targets[0].tunnels, 0)
  const next = await connect(`${wsUrl}/ws`)
  t.equal(next.greeting.address, '127.0.0.3', 'the dead target refused the handshake and the next one took it')
  next.ws.close()
})

test('a client that goes away closes the target side of its tunnel', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: true })
  t.teardown(async () => { await app.close(); await target.close() })
  const { ws } = await connect(`${wsUrl}/ws`)
  await until(() => target.wss.clients.size === 1, 2000, 'target side open')
  const [server] = target.wss.clients
  const serverClosed = closed(server)
  ws.terminate()
  t.equal(await serverClosed, 1006, 'the target saw the connection end')
  await until(() => app.lolly.targets[0].inflight === 0, 2000, 'slot given back')
  t.equal(app.lolly.targets[0].failures, 0, 'a client leaving is not the target\'s failure')
})

test('a target that resets an open tunnel closes it; not charged (a client can make a strict server reset)', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: true, passive: { maxFails: 10 } })
  t.teardown(async () => { await app.close(); await target.close() })
  const { ws } = await connect(`${wsUrl}/ws`)
  await until(() => target.wss.clients.size === 1, 2000, 'target side open')
  const [server] = target.wss.clients
  ;(server as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy()
  t.equal(await closed(ws), 1006)
  await until(() => app.lolly.targets[0].inflight === 0, 2000, 'slot given back')
  t.equal(app.lolly.targets[0].failures, 0)
})

test('draining a target stops new tunnels at once and closes its open ones after drainTimeout; back in service first, they stay', async (t) => {
  const a = await startWsTarget('127.0.0.2')
  const b = await startWsTarget('127.0.0.3')
  const { app, wsUrl } = await startGateway({ targets: [a.url, b.url], balancer: 'first', websocket: { drainTimeout: 300 } })
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })

  const kept = await connect(`${wsUrl}/ws`)
  app.lolly.disable('default', a.url)
  const fresh = await connect(`${wsUrl}/ws`)
  t.equal(fresh.greeting.address, '127.0.0.3', 'no new tunnel to a disabled target')
  app.lolly.enable('default', a.url)
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(kept.ws.readyState, kept.ws.OPEN, 'enabled again within drainTimeout: its tunnels were left alone')

  const started = Date.now()
  const drained = app.lolly.drain('default', a.url)
  const code = await closed(kept.ws)
  const took = Date.now() - started
  await drained
  t.equal(code, 1006)
  t.ok(took >= 250 && took < 2000, `closed after drainTimeout (${took} ms)`)
  t.equal(app.lolly.targets[0].inflight, 0, 'the drain resolved once its tunnels were gone')
  t.equal(fresh.ws.readyState, fresh.ws.OPEN, 'the other target\'s tunnel is untouched')
  fresh.ws.close()
})

test('removing a target closes its tunnels after drainTimeout, then removes it', async (t) => {
  const a = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [a.url], websocket: { drainTimeout: 100 } })
  t.teardown(async () => { await app.close(); await a.close() })
  const { ws } = await connect(`${wsUrl}/ws`)
  const started = Date.now()
  const removal = app.lolly.removeTarget('default', a.url)
  t.equal(await closed(ws), 1006)
  t.ok(Date.now() - started >= 90, 'not before drainTimeout')
  await removal
  t.same(app.lolly.targets, [])
})

test('a tunnel idle for idleTimeout is closed; traffic either way keeps it open', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: { idleTimeout: 400 } })
  t.teardown(async () => { await app.close(); await target.close() })
  const { ws } = await connect(`${wsUrl}/ws`)
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    ws.send('tick')
  }
  t.equal(ws.readyState, ws.OPEN, 'open after 800 ms of ticks every 200 ms')
  const started = Date.now()
  await closed(ws)
  t.ok(Date.now() - started < 1500, 'closed once idle')
  await until(() => app.lolly.targets[0].inflight === 0, 2000, 'slot given back')
})

test('app.close() closes open tunnels at once, calls off drain timers and handshakes still in flight', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const hung = await startWsTarget('127.0.0.3', 'hang')
  const { app, wsUrl } = await startGateway({ targets: [target.url, hung.url], balancer: 'first', websocket: true })
  t.teardown(async () => { await target.close(); await hung.close() })
  const clients = await Promise.all([1, 2, 3].map(async () => await connect(`${wsUrl}/ws`)))
  // Its tunnels wait out drainTimeout (30 s): the close must not.
  app.lolly.disable('default', target.url)
  const pending = new (await import('ws')).WebSocket(`${wsUrl}/ws`)
  const pendingEnd = new Promise((resolve) => { pending.once('error', resolve); pending.once('close', resolve) })
  await until(() => hung.handshakes.length === 1, 2000, 'handshake in flight')
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms, not held by the tunnels`)
  for (const client of clients) t.equal(await closed(client.ws), 1006)
  await pendingEnd
})

/** A target that completes the handshake and then never ends its side, whatever it receives (a vanished host, as far as FINs go). */
async function startHalfOpenTarget (): Promise<{ url: string, sockets: net.Socket[], close (): Promise<void> }> {
  const sockets: net.Socket[] = []
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket)
    let head = ''
    socket.setEncoding('latin1')
    socket.on('data', function onData (chunk: string) {
      head += chunk
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
      socket.resume()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve))
  return {
    url: `http://127.0.0.2:${(server.address() as net.AddressInfo).port}`,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** A WebSocket to `url` once open (the half-open target sends no greeting). */
async function opened (url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return ws
}

test('a tunnel one side left while the other never ends its half is closed after halfCloseTimeout; 0 waits', async (t) => {
  // Found by the soak: a client leaving a tunnel to a blackholed target held it, its slot and two
  // descriptors until idleTimeout (its FIN went on to a target that never answered).
  const target = await startHalfOpenTarget()
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: { halfCloseTimeout: 300 } })
  const waits = await startGateway({ targets: [target.url], websocket: { halfCloseTimeout: 0 } })
  t.teardown(async () => { await app.close(); await waits.app.close(); await target.close() })

  const ws = await opened(`${wsUrl}/ws`)
  const kept = await opened(`${waits.wsUrl}/ws`)
  const ended = Date.now()
  for (const client of [ws, kept]) (client as unknown as { _socket: net.Socket })._socket.end()
  await until(() => ws.readyState === ws.CLOSED, 3000, 'the client\'s connection closed')
  t.ok(Date.now() - ended < 2000, `closed after ${Date.now() - ended} ms`)
  await until(() => app.lolly.targets[0].inflight === 0, 2000, 'slot given back')
  await until(() => target.sockets[0].readableEnded, 2000, 'the target side closed too')

  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(waits.app.lolly.targets[0].tunnels, 1, 'with halfCloseTimeout 0 the half-open tunnel stays')
  kept.terminate()
})
