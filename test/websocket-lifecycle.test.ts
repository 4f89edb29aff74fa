import { test } from 'tap'
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
