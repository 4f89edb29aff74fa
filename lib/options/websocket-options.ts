import { pick, readSection, type Plain, type Section } from './option-reader.js'

/** WebSocket tunnelling of a pool (`websocket: true`, or an object of these): off by default. */
export interface WebSocketOptions {
  /** Longest wait for a target's 101 (or any answer) to the handshake, ms; then the next target is tried. Default 10000. */
  handshakeTimeout?: number
  /** An open tunnel with no byte either way for this long is closed, ms; 0 = never. Default 3600000 (1 h). */
  idleTimeout?: number
  /** Tunnels open (or opening) at once in the pool; one more is refused with 503. Default 10000. */
  maxTunnels?: number
  /** How long the tunnels of a draining or disabled target stay open before they are closed, ms. Default 30000. */
  drainTimeout?: number
  /** Once one side of a tunnel ended its half of the connection (FIN), how long the other has to end its own before both are closed, ms; 0 = never. Default 10000. */
  halfCloseTimeout?: number
}

export interface NormalizedWebSocket {
  /** Whether upgrades to `websocket` are tunnelled for routes that do not say (a route's `websocket` decides for itself). */
  enabled: boolean
  handshakeTimeout: number
  idleTimeout: number
  maxTunnels: number
  drainTimeout: number
  halfCloseTimeout: number
}

/**
 * Defaults, and why:
 * - handshakeTimeout 10 s: a target that accepts the connection but never answers the upgrade is
 *   broken; the client's own handshake timeout (browsers have none, `ws` none by default) cannot save it.
 * - idleTimeout 1 h, HAProxy's usual `timeout tunnel 1h`: live apps ping every 25-30 s (socket.io,
 *   graphql-ws), so only tunnels whose peer vanished without a FIN reach it. nginx's 60 s
 *   proxy_read_timeout is the classic cause of WebSocket drops behind nginx.
 * - maxTunnels 10000: each tunnel holds two sockets (file descriptors) and about 9 KiB of memory
 *   (measured, see the README); the cap keeps one pool from taking the process's descriptors.
 * - drainTimeout 30 s, Kubernetes' default grace period: clients get time to finish, then reconnect
 *   through the balancer to a target that is staying.
 * - halfCloseTimeout 10 s (HAProxy's `timeout client-fin`/`server-fin`): WebSocket ends with a close
 *   handshake, after which both peers close at once; a side still open seconds after the other's FIN
 *   is gone. Without it a client that left a tunnel to a vanished target (its FIN passed on and
 *   never answered) held the tunnel, its slot and two descriptors until idleTimeout: the soak found it.
 */
export const DEFAULT_WEBSOCKET: NormalizedWebSocket = {
  enabled: false,
  handshakeTimeout: 10_000,
  idleTimeout: 3_600_000,
  maxTunnels: 10_000,
  drainTimeout: 30_000,
  halfCloseTimeout: 10_000
}

const WEBSOCKET_SECTION: Section<NormalizedWebSocket> = {
  off: (inherited) => ({ ...inherited, enabled: false }),
  on: (inherited) => ({ ...inherited, enabled: true }),
  read: (object, _path, base) => ({
    enabled: true,
    handshakeTimeout: pick(object, 'handshakeTimeout', base.handshakeTimeout),
    idleTimeout: pick(object, 'idleTimeout', base.idleTimeout),
    maxTunnels: pick(object, 'maxTunnels', base.maxTunnels),
    drainTimeout: pick(object, 'drainTimeout', base.drainTimeout),
    halfCloseTimeout: pick(object, 'halfCloseTimeout', base.halfCloseTimeout)
  })
}

/** Reads `websocket` of an upstream (or the top level) over what it inherits. */
export function readWebSocket (object: Plain, path: string, inherited: NormalizedWebSocket): NormalizedWebSocket {
  return readSection(object, 'websocket', path, inherited, WEBSOCKET_SECTION)
}
