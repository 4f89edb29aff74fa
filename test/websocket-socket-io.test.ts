import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { Server } from 'socket.io'
import { io as connectClient, type Socket } from 'socket.io-client'
import type { FastifyInstance } from 'fastify'
import type { LollyOptions } from '../lib/options/types.js'
import { until } from './helpers/fleet.js'
import { startGateway } from './helpers/ws-targets.js'

// socket.io's long polling sends with POST.
const allMethods = (app: FastifyInstance): void => { app.all('/*', (_request, reply) => { reply.from() }) }

/** Three socket.io servers, one per loopback host; each answers `whoami` with its address and echoes `echo`. */
async function startSocketIoFleet (): Promise<{ urls: string[], close: () => Promise<void> }> {
  const servers: Array<{ http: http.Server, io: Server }> = []
  for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
    const server = http.createServer()
    const io = new Server(server)
    io.on('connection', (socket) => {
      socket.on('whoami', (ack: (answer: string) => void) => ack(address))
      socket.on('echo', (payload: unknown, ack: (answer: unknown) => void) => ack(payload))
    })
    await new Promise<void>((resolve) => server.listen(0, address, resolve))
    servers.push({ http: server, io })
  }
  return {
    urls: servers.map(({ http: server }) => `http://${(server.address() as AddressInfo).address}:${(server.address() as AddressInfo).port}`),
    close: async () => { await Promise.all(servers.map(async ({ io }) => await new Promise((resolve) => io.close(resolve)))) }
  }
}

/** A socket.io client through the gateway: long polling first, then the upgrade to WebSocket, as it starts by default. Node has no cookie jar: the client keeps one. */
function client (url: string): Socket {
  const socket = connectClient(url, { transports: ['polling', 'websocket'], withCredentials: true, reconnection: false, forceNew: true })
  return socket
}

async function whoami (socket: Socket): Promise<string> {
  return await socket.timeout(3000).emitWithAck('whoami')
}

test('socket.io through the gateway: three servers, polling then upgrade, kept on one server by the affinity cookie', async (t) => {
  const fleet = await startSocketIoFleet()
  const options: LollyOptions = { targets: fleet.urls, websocket: true, affinity: { cookie: { secret: 'socket.io secret, 16+' } } }
  const { app, url } = await startGateway(options, allMethods)
  t.teardown(async () => { await app.close(); await fleet.close() })

  const sockets: Socket[] = []
  for (let i = 0; i < 6; i++) {
    const socket = client(url)
    sockets.push(socket)
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject) })
  }
  for (const socket of sockets) await until(() => socket.io.engine.transport.name === 'websocket', 5000, 'upgraded to websocket')
  const addresses = await Promise.all(sockets.map(whoami))
  t.equal(new Set(addresses).size, 3, 'the sessions spread over the three servers')
  for (const socket of sockets) t.same(await socket.timeout(3000).emitWithAck('echo', { n: 1, s: 'é' }), { n: 1, s: 'é' })
  t.equal(app.lolly.targets.reduce((sum, s) => sum + s.tunnels, 0), 6, 'six WebSocket tunnels open')
  for (const socket of sockets) socket.close()
})

test('without affinity, socket.io\'s polling start breaks across several servers ("Session ID unknown"): the reason the cookie exists', async (t) => {
  const fleet = await startSocketIoFleet()
  const { app, url } = await startGateway({ targets: fleet.urls, websocket: true }, allMethods)
  t.teardown(async () => { await app.close(); await fleet.close() })
  const open = await (await fetch(`${url}/socket.io/?EIO=4&transport=polling`)).text()
  const sid = JSON.parse(open.slice(1)).sid as string
  // Round robin sends the session's next poll to another server, which never heard of it.
  const poll = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`)
  t.equal(poll.status, 400)
  t.match(await poll.json(), { message: 'Session ID unknown' })
})
