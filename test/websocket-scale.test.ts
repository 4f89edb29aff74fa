import { test } from 'tap'
import { WebSocket } from 'ws'
import { until } from './helpers/fleet.js'
import { startGateway, startWsTarget } from './helpers/ws-targets.js'

test('1000 concurrent tunnels over three targets: each carries its messages, the counts add up, and all close cleanly', async (t) => {
  const targets = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => startWsTarget(address)))
  const { app, wsUrl } = await startGateway({ targets: targets.map((target) => target.url), websocket: true })
  t.teardown(async () => { await app.close(); await Promise.all(targets.map((target) => target.close())) })

  const clients: WebSocket[] = []
  const greeted: Array<Promise<string>> = []
  for (let i = 0; i < 1000; i++) {
    const ws = new WebSocket(`${wsUrl}/ws/${i}`, { perMessageDeflate: false })
    clients.push(ws)
    greeted.push(new Promise((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(String(data)).address))
      ws.once('error', reject)
    }))
  }
  const addresses = await Promise.all(greeted)
  const perTarget = app.lolly.targets.map((s) => s.tunnels)
  t.equal(perTarget.reduce((a, b) => a + b, 0), 1000, 'every tunnel is open and counted')
  t.same(perTarget, [334, 333, 333], 'round robin spread them evenly')
  t.equal(new Set(addresses).size, 3)

  const echoes = clients.map(async (ws, i) => await new Promise<string>((resolve) => {
    ws.once('message', (data) => resolve(String(data)))
    ws.send(`message ${i}`)
  }))
  const answers = await Promise.all(echoes)
  t.ok(answers.every((answer, i) => answer === `message ${i}`), 'each tunnel echoed its own message: no crossed wires')

  for (const ws of clients) ws.close()
  await until(() => app.lolly.targets.every((s) => s.inflight === 0 && s.tunnels === 0), 10_000, 'all tunnels closed')
  t.same(app.lolly.targets.map((s) => s.tunnelsOpened), [334, 333, 333])
  t.same(app.lolly.targets.map((s) => s.failures), [0, 0, 0])
})
