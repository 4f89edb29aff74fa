import net from 'node:net'
import { test } from 'tap'
import { UpstreamPool } from '../lib/pool/upstream-pool.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import { Tunnel } from '../lib/tunnel/tunnel.js'

/** A connected pair of loopback sockets: what a tunnel joins. */
async function socketPair (): Promise<{ a: net.Socket, b: net.Socket, close: () => Promise<void> }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  const b = await accepted
  return { a, b, close: async () => { a.destroy(); b.destroy(); await new Promise((resolve) => server.close(resolve)) } }
}

test('a handshake that upgrades after its pool closed opens nothing: both sockets are closed and nothing is counted', async (t) => {
  const config = readPluginOptions({ targets: ['http://127.0.0.1:1'], websocket: { maxTunnels: 1 } }).upstreams.get('default')!
  const pool = new UpstreamPool(config)
  const [target] = pool.targets
  const client = await socketPair()
  const upstream = await socketPair()
  t.teardown(async () => { await client.close(); await upstream.close(); await pool.close() })

  let calledOff = 0
  const handshake = { close: () => { calledOff++ } }
  t.equal(pool.tunnels.reserve(handshake), true)
  t.equal(pool.tunnels.reserve({ close: () => {} }), false, 'maxTunnels 1: no second place')
  pool.tunnels.closeAll()
  t.equal(calledOff, 1, 'the closing pool called the handshake off')
  t.equal(pool.tunnels.reserve({ close: () => {} }), false, 'a closed pool takes no handshake')

  // Its 101 came anyway, before the call-off reached it.
  const tunnel = new Tunnel(pool, target, client.a, upstream.a)
  t.equal(tunnel.open(handshake, 'HTTP/1.1 101 Switching Protocols\r\n\r\n', Buffer.alloc(0), pool.config.websocket), false)
  t.equal(client.a.destroyed && upstream.a.destroyed, true, 'both sockets closed')
  t.equal(target.inflight, 0)
  t.equal(target.tunnels, 0)
  t.equal(pool.tunnels.size, 0, 'its place was given back')
  tunnel.close()
  t.equal(target.inflight, 0, 'closing it again counts nothing')
})
