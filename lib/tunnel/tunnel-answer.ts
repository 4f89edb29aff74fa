import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { util, type Dispatcher } from 'undici'
import { BadGatewayError } from '../errors.js'
import { FastAnswer } from '../fastify/fast-answer.js'
import type { FromCall } from '../fastify/from-call.js'
import type { FromOptions } from '../fastify/reply-from-hooks.js'
import { HEADER_VALUE, HOP_BY_HOP, TOKEN } from '../http/header-names.js'
import { parseWithoutHopByHop } from '../http/hop-by-hop.js'
import { CLIENT_ABORTED } from '../pool/pool-events.js'
import type { ClosableTunnel } from '../pool/pool-tunnels.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import { Tunnel } from './tunnel.js'
import type { UpgradeRequest } from './upgrade-listener.js'

type Headers = Record<string, string | string[] | number | undefined>
type Abort = (reason?: Error) => void

// RFC 6455 §1.3: the accept value is SHA-1 of the client's key and this GUID, in base64.
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/**
 * The caller's handler of a tunnelled WebSocket handshake, which the pool's ProxiedRequest runs like
 * any request: failover, retries and passive health all happen before it hears anything. A target's
 * 101 to this handshake opens the tunnel; anything else the request settles on (a 3xx, 4xx or 5xx the
 * target answered, or our 502/503/504 when every try failed) is answered as reply.from() answers it,
 * by a FastAnswer, on the upgrade's socket, which closes after it. It holds the place it reserved in
 * its pool's tunnels until the tunnel opens, or gives it back.
 */
export class TunnelAnswer implements Dispatcher.DispatchHandler, ClosableTunnel {
  readonly #call: FromCall
  readonly #upgrade: UpgradeRequest
  readonly #pool: UpstreamPool
  readonly #answer: FastAnswer
  readonly #opts: FromOptions | undefined
  /** The Sec-WebSocket-Key the handshake was sent with: the target's 101 must answer it. */
  readonly #key: string
  /** Whether it holds a place in the pool's tunnels (see reserve). */
  #reserved = false
  /** Whether its tries were counted (see #counted). */
  #counted = false

  constructor (call: FromCall, opts: FromOptions | undefined, upgrade: UpgradeRequest, key: string) {
    this.#call = call
    this.#opts = opts
    this.#upgrade = upgrade
    this.#key = key
    this.#pool = call.destination.pool
    this.#answer = new FastAnswer(call, opts, 'GET')
  }

  /** Takes a place in the pool's tunnels for the tunnel to come; false when there is none. */
  reserve (): boolean {
    return (this.#reserved = this.#pool.tunnels.reserve(this))
  }

  /** The pool closes during the handshake: the client leaves, which stops the request (not the target's fault). */
  close (): void {
    this.#upgrade.socket.destroy()
  }

  onConnect (abort: Abort): void {
    this.#answer.onConnect(abort)
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode >= 200) this.#settled()
    return this.#answer.onHeaders(statusCode, rawHeaders, resume)
  }

  onData (chunk: Buffer): boolean {
    return this.#answer.onData(chunk)
  }

  onComplete (): void {
    this.#answer.onComplete()
  }

  onError (err: Error): void {
    this.#settled()
    this.#answer.onError(err)
  }

  onUpgrade (_statusCode: number, rawHeaders: Buffer[], socket: Duplex): void {
    const call = this.#call
    const pool = this.#pool
    const tries = call.log
    const target = pool.target(tries[tries.length - 1].target)!
    this.#count()
    if (!upgradesThis(rawHeaders, this.#key)) {
      // Any other 101 would make the tunnel a raw connection to the target for whatever the client
      // sends next (WebSocket smuggling): past the gateway's routes and hooks.
      socket.destroy()
      pool.handshakeFailed(target)
      return this.onError(new BadGatewayError(`${target.url} answered 101 without accepting this WebSocket handshake`))
    }
    this.#reserved = false
    const res = call.reply.raw as ServerResponse
    const client = this.#upgrade.socket
    // The socket is the tunnel's now: the response never ends it, nor reports its close to the call.
    res.detachSocket(client as never)
    const tunnel = new Tunnel(pool, target, client, socket)
    tunnel.open(this, switchingProtocols(rawHeaders, this.#opts, call), this.#upgrade.head, pool.config.websocket)
  }

  /** The handshake ended without a tunnel: its place goes back, its tries are counted. */
  #settled (): void {
    this.#count()
    if (!this.#reserved) return
    this.#reserved = false
    this.#pool.tunnels.release(this)
  }

  /** Each try that did not upgrade (but for the client's leaving) is a failed handshake of its target, once. */
  #count (): void {
    if (this.#counted) return
    this.#counted = true
    const pool = this.#pool
    for (const record of this.#call.log) {
      if (record.status === 101 || record.error === CLIENT_ABORTED) continue
      const target = pool.target(record.target)
      if (target !== undefined) pool.handshakeFailed(target)
    }
  }
}

/** Whether a 101 upgrades to WebSocket and accepts `key` (RFC 6455 §4.1). */
function upgradesThis (rawHeaders: Buffer[], key: string): boolean {
  const headers = util.parseHeaders(rawHeaders) as Headers
  const expected = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64')
  return String(headers.upgrade).toLowerCase() === 'websocket' && headers['sec-websocket-accept'] === expected
}

/**
 * The 101 the client gets: the headers the route's hooks set on the reply (a session cookie, a
 * request id), then the target's own (Sec-WebSocket-Accept, -Protocol, -Extensions, its cookies
 * added to theirs) less the hop-by-hop ones, through the caller's rewriteHeaders, with the affinity
 * cookie (browsers take a Set-Cookie on a 101) and this hop's Connection and Upgrade.
 */
function switchingProtocols (rawHeaders: Buffer[], opts: FromOptions | undefined, call: FromCall): string {
  let headers: Headers = parseWithoutHopByHop(rawHeaders)
  const own = call.reply.getHeaders() as Headers
  for (const name in own) {
    if (HOP_BY_HOP.has(name) || name === 'content-length') continue
    const theirs = headers[name]
    if (theirs === undefined) headers[name] = own[name]
    else if (name === 'set-cookie') headers[name] = [own[name], theirs].flat() as string[]
  }
  const rewrite = opts?.rewriteHeaders
  if (rewrite !== undefined) headers = rewrite(headers as never, call.reply.request as never) as Headers
  call.addAffinityCookie(headers)
  let head = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n'
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) {
      // Written as is, not through Node's checks: a value a hook copied from client input must not split the head.
      if (TOKEN.test(name) && HEADER_VALUE.test(String(item))) head += `${name}: ${item}\r\n`
      else call.reply.log.warn({ header: name }, 'dropped a WebSocket response header that is not a valid header')
    }
  }
  return head + '\r\n'
}
