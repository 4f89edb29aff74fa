import fs from 'node:fs'
import net from 'node:net'
import { test } from 'tap'
import Fastify from 'fastify'
import { startGateway } from '../helpers/gateway.js'
import { startUpstreams } from '../helpers/upstreams.js'
import { startWsTarget } from '../helpers/ws-targets.js'

// A gateway out of file descriptors (EMFILE: every open tunnel holds two, and a process's limit is
// often 1024 or, here, below twice the default maxTunnels) cannot open a connection to any target.
// That is its own failure, not the target's: charging it would eject healthy targets one after the
// other, and a retry on another target fails the same way.

/** Opens /dev/null until the process has no descriptor left; returns a function that gives them back. */
function exhaustDescriptors (): () => void {
  const held: number[] = []
  for (;;) {
    try {
      held.push(fs.openSync('/dev/null', 'r'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EMFILE' && (err as NodeJS.ErrnoException).code !== 'ENFILE') throw err
      return () => { for (const fd of held) fs.closeSync(fd) }
    }
  }
}

test('out of file descriptors, the gateway charges no target and tries no other: requests and handshakes fail at once, the targets stay healthy', async (t) => {
  const upstreams = await startUpstreams(3)
  const ws = await startWsTarget('127.0.0.2')
  const gateway = await startGateway({ targets: [...upstreams.map((u) => u.url)], passive: { maxFails: 1 } })
  const wsGateway = await startGateway({ targets: [ws.url], websocket: true, passive: { maxFails: 1 } }, (app) => { app.get('/*', (_req, reply) => { reply.from() }) })
  t.teardown(async () => { await gateway.app.close(); await wsGateway.app.close(); await ws.close(); await Promise.all(upstreams.map((u) => u.close())) })

  // The handshake's client connection is open (accepted) before the descriptors run out.
  const client = net.connect(wsGateway.port, '127.0.0.1')
  client.on('error', () => {})
  await new Promise((resolve) => client.once('connect', resolve))
  await new Promise((resolve) => setTimeout(resolve, 20))
  let answer = ''
  client.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })

  // inject() reads a file the first time it runs: not while there is no descriptor to read it with.
  const warm = Fastify()
  await warm.inject('/')
  await warm.close()

  const giveBack = exhaustDescriptors()
  let res
  try {
    res = await gateway.app.inject('/')
    client.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    const until = Date.now() + 2000
    while (!answer.includes('\r\n\r\n') && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5))
  } finally {
    giveBack()
  }
  client.destroy()

  t.equal(res.statusCode, 502)
  t.match(res.json(), { code: 'FST_LOLLY_BAD_GATEWAY', message: /EMFILE/ })
  t.same(gateway.app.lolly.targets.map((s) => [s.state, s.failures, s.requests]), [['healthy', 0, 1], ['healthy', 0, 0], ['healthy', 0, 0]], 'one try, not charged, not retried elsewhere')
  t.match(answer, /^HTTP\/1\.1 502 /, 'the handshake: a 502')
  t.match(wsGateway.app.lolly.targets[0], { state: 'healthy', failures: 0, tunnels: 0, inflight: 0 })
  t.equal((await gateway.app.inject('/')).statusCode, 200, 'with descriptors again, requests go through')
})
