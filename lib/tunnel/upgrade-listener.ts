import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import type { FastifyInstance } from 'fastify'

/** Where an upgrade request carries its socket through Fastify's routing to reply.from(). */
export const kUpgrade = Symbol('fastify-lolly.upgrade')

/** A WebSocket upgrade request's connection: Node's HTTP server let go of it when it saw the Upgrade header. */
export interface UpgradeRequest {
  readonly socket: Duplex
  /** Bytes the client sent after its request head (the start of its first frames, if any). */
  readonly head: Buffer
}

export type IncomingWithUpgrade = IncomingMessage & { [kUpgrade]?: UpgradeRequest }

/**
 * Sends every WebSocket upgrade request the server gets through Fastify's router, as
 * @fastify/websocket does, so routing, `onRequest` and `preHandler` hooks (authentication above
 * all), and error handling apply to it as to any request. Its response is written on the upgrade's
 * socket, which closes after it; a route whose reply.from() tunnels WebSocket takes the socket
 * instead (lib/tunnel/tunnel-answer.ts).
 *
 * Any other upgrade (`h2c` first: the h2c smuggling attack uses a proxy that tunnels it to reach
 * routes behind its access control) is never tunnelled: it is served as the plain HTTP/1.1 request
 * it also is (see serveAgain).
 *
 * Node's server only leaves a request with an Upgrade header to its `upgrade` listeners when it has
 * one, so the listener is added only when some pool or route tunnels WebSocket. It goes with the
 * server.
 */
export function listenForUpgrades (app: FastifyInstance): void {
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Node took its own error listener off the socket when it handed it over: a client's reset must not crash the process.
    socket.on('error', destroySocket)
    // Pipelined behind a request still being answered: that answer is written, then the connection
    // ends, since nothing could follow it in order. Browsers and curl never pipeline.
    const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
    if (answering != null) {
      answering.once('finish', () => socket.end())
      return
    }
    if (!isWebSocket(req.headers.upgrade)) return serveAgain(app, req, socket, head)
    ;(req as IncomingWithUpgrade)[kUpgrade] = { socket, head }
    const res = new ServerResponse(req)
    // The server's parser let go of this connection: nothing more can be read on it after this answer.
    res.shouldKeepAlive = false
    res.assignSocket(socket as never)
    res.on('finish', endSocket)
    app.routing(req, res)
  }
  app.server.on('upgrade', onUpgrade)
}

function destroySocket (this: Duplex): void {
  this.destroy()
}

/**
 * Gives a request with an upgrade we never tunnel back to the server as the plain request it also
 * is: its head written again without Upgrade (and without `upgrade` in Connection), then what came
 * after it, for the server to parse anew on the same socket. Its body, if any, is read as any body,
 * and the connection stays a keep-alive HTTP/1.1 one: `curl --http2 -d ...` on an http:// URL is
 * served as it would be without the listener. The head is what Node's parser accepted, so nothing
 * in it can split it.
 */
function serveAgain (app: FastifyInstance, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase()
    let value = raw[i + 1]
    if (name === 'upgrade') continue
    if (name === 'connection') value = value.split(',').filter((token) => token.trim().toLowerCase() !== 'upgrade').join(',')
    text += `${raw[i]}: ${value}\r\n`
  }
  socket.off('error', destroySocket)
  socket.unshift(head)
  socket.unshift(Buffer.from(text + '\r\n', 'latin1'))
  // Over TLS the socket is the decrypted stream, which an https (or HTTP/2 with HTTP/1.1) server
  // takes on 'secureConnection': its 'connection' would start a TLS handshake on it again.
  app.server.emit(socket instanceof TLSSocket ? 'secureConnection' : 'connection', socket)
}

/** An answer other than a tunnel was written: the connection ends with it. */
function endSocket (this: ServerResponse): void {
  // Cleared by the tunnel when it took the socket.
  this.socket?.end()
}

/** `Upgrade: websocket` (RFC 6455 §4.1: the value is case-insensitive, and a client offers just that one). */
function isWebSocket (upgrade: string | undefined): boolean {
  return upgrade !== undefined && upgrade.trim().toLowerCase() === 'websocket'
}
