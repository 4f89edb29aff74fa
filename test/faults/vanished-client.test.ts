import { execFileSync } from 'node:child_process'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { test } from 'tap'
import { WebSocketServer, type WebSocket } from 'ws'
import { findExecutable } from '../helpers/dnsmasq-server.js'
import { until } from '../helpers/fleet.js'
import { startGateway } from '../helpers/ws-targets.js'

// A WebSocket client that vanished without a FIN (a laptop lid closed, a NAT entry dropped) sends
// nothing more, reads nothing more, and answers no ping. Loopback cannot drop packets, so the client
// here is one that stops reading and writing: what the gateway sees of a vanished peer until the
// kernel gives up on it. Three things bound such a tunnel:
// - idleTimeout, once no byte moves either way: a target that keeps sending fills the buffers, the
//   writes stall (backpressure: nothing queues in the gateway), and the timer runs out;
// - the application's own heartbeat (socket.io, ws pings): the target ends the connection, and the
//   gateway closes the tunnel with it;
// - TCP keep-alive on both sockets (30 s, then 10 probes 1 s apart from libuv), when nothing is sent.

/** A WebSocket target on 127.0.0.1 that runs `onConnection` for each client. */
async function wsTarget (onConnection: (ws: WebSocket) => void): Promise<{ url: string, close: () => Promise<void> }> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
  wss.on('connection', onConnection)
  const server = http.createServer()
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** A raw client: the handshake, then nothing (its socket paused: it reads nothing either). */
async function vanishingClient (gatewayUrl: string): Promise<net.Socket> {
  const { port } = new URL(gatewayUrl)
  const socket = net.connect(Number(port), '127.0.0.1')
  socket.on('error', () => {})
  socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  let head = ''
  await new Promise<void>((resolve, reject) => {
    socket.on('data', function onData (chunk: Buffer) {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      socket.pause()
      if (head.startsWith('HTTP/1.1 101 ')) resolve()
      else reject(new Error(head))
    })
  })
  return socket
}

test('a vanished client under a target that keeps sending: the writes stall, nothing queues in the gateway, idleTimeout closes the tunnel', async (t) => {
  const IDLE = 500
  const chunk = Buffer.alloc(64 * 1024, 1)
  let pushed = 0
  let targetClosed = false
  const target = await wsTarget((ws) => {
    // Sends as fast as its socket takes it, queueing at most 1 MiB of its own.
    const pump = setInterval(() => {
      while (ws.readyState === ws.OPEN && ws.bufferedAmount < 1024 * 1024) {
        ws.send(chunk, (err) => { if (err === undefined || err === null) pushed += chunk.length })
      }
    }, 5)
    ws.on('close', () => { clearInterval(pump); targetClosed = true })
  })
  const { app, url } = await startGateway({ targets: [target.url], websocket: { idleTimeout: IDLE } })
  t.teardown(async () => { await app.close(); await target.close() })

  const baseline = process.memoryUsage().arrayBuffers
  const client = await vanishingClient(url)
  t.teardown(() => client.destroy())
  let peak = 0
  let seen = 0
  let stalledAt = 0
  const opened = Date.now()
  while (app.lolly.targets[0].tunnels > 0 && Date.now() - opened < 10_000) {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline)
    if (pushed !== seen) {
      seen = pushed
      stalledAt = Date.now()
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const closedAt = Date.now()
  t.equal(app.lolly.targets[0].tunnels, 0, `closed ${closedAt - opened} ms after it opened`)
  t.comment(`the target pushed ${(pushed / 1048576).toFixed(1)} MiB into the buffers, then stalled; the tunnel closed ${closedAt - stalledAt} ms later; buffers in this process peaked ${(peak / 1048576).toFixed(1)} MiB above the start`)
  t.ok(seen > 0 && stalledAt > opened, 'the target sent until the buffers were full')
  // Node holds a socket's timeout back once when its write queue moved since the last check, so a
  // write that stalls closes the tunnel between idleTimeout and twice that after its last progress.
  t.ok(closedAt - stalledAt >= IDLE * 0.8 && closedAt - stalledAt < 2 * IDLE + 1000, 'closed about idleTimeout after the bytes stopped moving, not while they moved')
  t.ok(peak < 8 * 1048576, 'the gateway read no more than it could write: the target\'s bytes waited in the kernel')
  await until(() => targetClosed, 2000, 'the target\'s side closed')
  t.equal(app.lolly.targets[0].inflight, 0)
  t.equal(app.lolly.targets[0].failures, 0, 'not the target\'s failure')
})

test('a vanished client under a target that pings it: the pings keep the tunnel past idleTimeout, the target\'s heartbeat ends it, and the gateway closes it at once', async (t) => {
  const IDLE = 200
  const BEAT = 100
  let endedAt = 0
  const target = await wsTarget((ws) => {
    // A heartbeat as ws's documentation and socket.io have it: five pings unanswered and it ends.
    let missed = 0
    ws.on('pong', () => { missed = 0 })
    const beat = setInterval(() => {
      if (++missed > 5) {
        endedAt = Date.now()
        ws.terminate()
        return
      }
      ws.ping()
    }, BEAT)
    ws.on('close', () => clearInterval(beat))
  })
  const { app, url } = await startGateway({ targets: [target.url], websocket: { idleTimeout: IDLE } })
  t.teardown(async () => { await app.close(); await target.close() })
  const client = await vanishingClient(url)
  t.teardown(() => client.destroy())
  const opened = Date.now()
  await until(() => app.lolly.targets[0].tunnels === 0, 5000, 'the tunnel closed')
  const closedAt = Date.now()
  t.ok(endedAt > 0, 'the target\'s heartbeat ended it')
  // Past twice idleTimeout, the longest an idle tunnel stays open (see above).
  t.ok(endedAt - opened > 2 * IDLE, `open ${endedAt - opened} ms, past idleTimeout (${IDLE} ms): each ping the gateway wrote counted as activity`)
  t.ok(closedAt - endedAt < 200, `the gateway followed ${closedAt - endedAt} ms after`)
  t.equal(app.lolly.targets[0].inflight, 0)
})

test('both sockets of a tunnel carry TCP keep-alive: the kernel probes a silent peer after 30 s', { skip: findExecutable('ss') === undefined ? 'ss (iproute2) is not installed: it shows the sockets\' keep-alive timers' : false }, async (t) => {
  let upstreamPort = 0
  const target = await wsTarget((ws) => { upstreamPort = (ws as unknown as { _socket: net.Socket })._socket.remotePort! })
  const { app, url } = await startGateway({ targets: [target.url], websocket: true })
  t.teardown(async () => { await app.close(); await target.close() })
  const client = await vanishingClient(url)
  t.teardown(() => client.destroy())
  await until(() => upstreamPort !== 0, 2000, 'the target side open')
  const gatewayPort = new URL(url).port
  const targetPort = new URL(target.url).port
  // Established TCP sockets with their timers: the gateway's side of each connection is the one
  // whose local port is the gateway's (the client's) or whose peer is the target (the target's).
  // ss -tnoH: Recv-Q, Send-Q, local address, peer address, timer.
  const sockets = execFileSync('ss', ['-tnoH', 'state', 'established'], { encoding: 'utf8' }).split('\n').map((line) => line.trim().split(/\s+/))
  const side = (local: string, peer: string): string | undefined => sockets.find((fields) => fields[2] === local && fields[3] === peer)?.slice(4).join(' ')
  const clientSide = side(`127.0.0.1:${gatewayPort}`, `127.0.0.1:${client.localPort!}`)
  const targetSide = side(`127.0.0.1:${upstreamPort}`, `127.0.0.1:${targetPort}`)
  t.match(clientSide, /timer:\(keepalive,(29|30)sec,0\)/, 'the client\'s socket')
  t.match(targetSide, /timer:\(keepalive,(29|30)sec,0\)/, 'the target\'s socket')
})
