import net from 'node:net'
import { test } from 'tap'
import { connect, refusedHandshake, startGateway, startWsTarget } from './helpers/ws-targets.js'

/** A loopback URL nothing listens on: connections are refused. */
async function refusingUrl (address: string): Promise<string> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://${address}:${port}`
}

test('a handshake moves on from a target that refuses the connection, answers 503, or never answers; each is charged to its target', async (t) => {
  const refused = await refusingUrl('127.0.0.2')
  const busy = await startWsTarget('127.0.0.4', 'answer-503')
  const hung = await startWsTarget('127.0.0.5', 'hang')
  const good = await startWsTarget('127.0.0.6')
  const { app, wsUrl } = await startGateway({
    targets: [refused, busy.url, hung.url, good.url],
    balancer: 'first',
    retry: { attempts: 3 },
    passive: { maxFails: 100 },
    websocket: { handshakeTimeout: 300 }
  })
  t.teardown(async () => { await app.close(); await Promise.all([busy, hung, good].map((target) => target.close())) })

  const { ws, greeting } = await connect(`${wsUrl}/ws`)
  t.equal(greeting.address, '127.0.0.6', 'the client only ever saw the target that upgraded')
  const tries = app.lolly.targets.map((s) => [s.failures, s.handshakesFailed, s.consecutiveFailures])
  t.same(tries, [[1, 1, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0]], 'refused, 503 and the hung handshake each count against their target')
  t.equal(busy.handshakes.length + hung.handshakes.length, 2)
  t.same(app.lolly.targets[3].latencyMs !== null, true, 'the 101 counts as an answer: its latency is known')
  ws.close()
})

test('a 2xx answer to a handshake is a 502 for the client, not charged to the target and not tried elsewhere: any plain route answers one', async (t) => {
  const plain = await startWsTarget('127.0.0.2', 'answer-200')
  const other = await startWsTarget('127.0.0.3', 'answer-200')
  const { app, wsUrl } = await startGateway({ targets: [plain.url, other.url], passive: { maxFails: 1 }, websocket: true })
  t.teardown(async () => { await app.close(); await plain.close(); await other.close() })
  for (let i = 0; i < 4; i++) t.equal((await refusedHandshake(`${wsUrl}/`)).status, 502)
  t.same(app.lolly.targets.map((s) => [s.state, s.failures, s.handshakesFailed]), [['healthy', 0, 2], ['healthy', 0, 2]], 'no client can eject targets this way')
  t.equal(plain.handshakes.length + other.handshakes.length, 4, 'one try each')
})

test('when every target fails the handshake, the client gets an HTTP error it can read: 502, or 504 after a handshake timeout', async (t) => {
  const ok200 = await startWsTarget('127.0.0.2', 'answer-200')
  const hung = await startWsTarget('127.0.0.3', 'hang')
  const first = await startGateway({ targets: [ok200.url], websocket: true })
  const second = await startGateway({ targets: [hung.url], websocket: { handshakeTimeout: 200 }, retry: false })
  t.teardown(async () => { await first.app.close(); await second.app.close(); await ok200.close(); await hung.close() })

  const bad = await refusedHandshake(`${first.wsUrl}/ws`)
  t.equal(bad.status, 502)
  t.match(JSON.parse(bad.body), { code: 'FST_LOLLY_BAD_GATEWAY', message: /FST_LOLLY_UPGRADE_REFUSED from http:\/\/127\.0\.0\.2/ })
  t.equal(bad.headers.connection, 'close', 'the connection ends with the answer')

  const slow = await refusedHandshake(`${second.wsUrl}/ws`)
  t.equal(slow.status, 504)
  t.match(JSON.parse(slow.body), { code: 'FST_LOLLY_GATEWAY_TIMEOUT' })
})

test('a 4xx answer to the handshake is the target\'s word to this client: relayed as is, not retried, not charged', async (t) => {
  const strict = await startWsTarget('127.0.0.2', 'answer-403')
  const other = await startWsTarget('127.0.0.3')
  const { app, wsUrl } = await startGateway({ targets: [strict.url, other.url], balancer: 'first', websocket: true })
  t.teardown(async () => { await app.close(); await strict.close(); await other.close() })
  const answer = await refusedHandshake(`${wsUrl}/ws`)
  t.equal(answer.status, 403)
  t.equal(answer.body, 'bad token')
  t.equal(other.handshakes.length, 0, 'not tried elsewhere')
  t.same(app.lolly.targets.map((s) => [s.failures, s.handshakesFailed]), [[0, 1], [0, 0]], 'not charged; counted as a handshake that did not upgrade')
})

test('a handshake with no target that can take it is a 503 with Retry-After', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const { app, wsUrl } = await startGateway({ targets: [{ url: target.url, down: true }], websocket: true })
  t.teardown(async () => { await app.close(); await target.close() })
  const answer = await refusedHandshake(`${wsUrl}/ws`)
  t.equal(answer.status, 503)
  t.equal(answer.headers['retry-after'], '1')
  t.match(JSON.parse(answer.body), { code: 'FST_LOLLY_NO_AVAILABLE_TARGET' })
})

test('when every target answers 503, the client gets the last one\'s answer', async (t) => {
  const a = await startWsTarget('127.0.0.2', 'answer-503')
  const b = await startWsTarget('127.0.0.3', 'answer-503')
  const { app, wsUrl } = await startGateway({ targets: [a.url, b.url], websocket: true })
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })
  const answer = await refusedHandshake(`${wsUrl}/ws`)
  t.same([answer.status, answer.body], [503, 'busy'])
  t.equal(a.handshakes.length + b.handshakes.length, 2, 'both were tried')
})
