import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws'
import lolly from '../../lib/index.js'
import { rawExchange } from './raw-exchange.js'
import type { LollyOptions } from '../../lib/options/types.js'

/** How a target answers a WebSocket handshake. */
export type HandshakeBehaviour = 'upgrade' | 'answer-200' | 'answer-503' | 'answer-403' | 'answer-403-cut' | 'hang' | 'hold'

/** A WebSocket server on one loopback address: it greets each client with its address, then echoes. */
export interface WsTarget {
  address: string
  url: string
  server: http.Server
  wss: WebSocketServer
  /** Handshake requests it got (headers as received). */
  handshakes: http.IncomingHttpHeaders[]
  /** Plain requests it got. */
  plain: Array<{ url: string, headers: http.IncomingHttpHeaders, body: string }>
  behaviour: HandshakeBehaviour
  /** Extra header lines its 101 carries. */
  extraHeaders: string[]
  /** Upgrades the handshakes held back ('hold'). */
  release (): void
  /** Ends every connection at once (a crashed process), and stops listening. */
  kill (): Promise<void>
  close (): Promise<void>
}

/** Starts a WebSocket echo target on `address` (port 0), permessage-deflate on, any subprotocol but 'refused'. */
export async function startWsTarget (address = '127.0.0.1', behaviour: HandshakeBehaviour = 'upgrade'): Promise<WsTarget> {
  const sockets = new Set<Socket>()
  const held: Array<() => void> = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('latin1')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => {
      target.plain.push({ url: req.url!, headers: req.headers, body })
      res.end(`${address} plain ${req.url}`)
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: true,
    maxPayload: 8 * 1024 * 1024,
    handleProtocols: (protocols) => [...protocols].find((p) => p !== 'refused') ?? false
  })
  server.on('upgrade', (req, socket, head) => {
    target.handshakes.push(req.headers)
    switch (target.behaviour) {
      case 'answer-200': return socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno')
      case 'answer-503': return socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy')
      case 'answer-403': return socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 9\r\nconnection: close\r\n\r\nbad token')
      case 'answer-403-cut': return socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 100\r\n\r\nonly ', () => socket.destroy())
      case 'hang': return
      case 'hold':
        held.push(() => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)))
        return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })
  wss.on('headers', (headers) => { headers.push(...target.extraHeaders) })
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ address, protocol: ws.protocol, extensions: ws.extensions, xff: req.headers['x-forwarded-for'], url: req.url }))
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }))
    ws.on('ping', (data) => ws.send(`pinged ${String(data)}`))
    ws.on('close', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  const port = (server.address() as AddressInfo).port
  const target: WsTarget = {
    address,
    url: `http://${address}:${port}`,
    server,
    wss,
    handshakes: [],
    plain: [],
    behaviour,
    extraHeaders: [],
    release: () => { for (const upgrade of held.splice(0)) upgrade() },
    kill: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    close: async () => {
      for (const client of wss.clients) client.terminate()
      for (const socket of sockets) socket.destroy()
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  return target
}

/** A gateway: Fastify with the plugin and `GET /ws` (and `/*`) answered by reply.from(); listening on 127.0.0.1. */
export async function startGateway (options: LollyOptions, routes?: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance, url: string, wsUrl: string }> {
  const app = Fastify()
  await app.register(lolly, options)
  if (routes === undefined) app.get('/*', (_request, reply) => { reply.from() })
  else routes(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  return { app, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` }
}

/** A client connected through the gateway, with its greeting (the target's first message). */
export interface OpenClient {
  ws: WebSocket
  greeting: { address: string, protocol: string, extensions: string, xff: string, url: string }
  /** The 101's headers. */
  headers: http.IncomingHttpHeaders
}

/** The close code each client opened by connect() saw, once it closed. */
const closeCodes = new WeakMap<WebSocket, number>()

/** Opens a WebSocket to `url` and waits for the target's greeting. */
export async function connect (url: string, protocols?: string[], options?: ClientOptions): Promise<OpenClient> {
  const ws = new WebSocket(url, protocols, options)
  ws.once('close', (code) => { closeCodes.set(ws, code) })
  let headers: http.IncomingHttpHeaders = {}
  ws.once('upgrade', (res) => { headers = res.headers })
  const greeting = await new Promise<OpenClient['greeting']>((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data))))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)))
  })
  return { ws, greeting, headers }
}

/** What a failed handshake got: the status and body of the HTTP answer. */
export async function refusedHandshake (url: string, headers?: Record<string, string>): Promise<{ status: number, body: string, headers: http.IncomingHttpHeaders }> {
  const ws = new WebSocket(url, { headers })
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { ws.terminate(); reject(new Error('the handshake succeeded')) })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }))
    })
    ws.once('error', reject)
  })
}

/** Waits for `ws` (opened by connect()) to close; resolves with the code it saw. */
export async function closed (ws: WebSocket): Promise<number> {
  const seen = closeCodes.get(ws)
  if (seen !== undefined) return seen
  return await new Promise((resolve) => ws.once('close', (code) => resolve(code)))
}

/** Everything the gateway at `url` sends back to `text` on a raw connection, until it closes it. */
export async function exchangeText (url: string, text: string): Promise<string> {
  return (await rawExchange(Number(new URL(url).port), text)).text
}

/** The next message on `ws`. */
export async function nextMessage (ws: WebSocket): Promise<{ data: Buffer, binary: boolean }> {
  return await new Promise((resolve) => ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })))
}
