import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { NormalizedWebSocket } from '../options/websocket-options.js'
import type { ClosableTunnel } from '../pool/pool-tunnels.js'
import type { Target } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

// TCP keep-alive on both sockets: a peer that vanished without a FIN (a laptop closed, a NAT entry
// dropped) is found by the kernel instead of holding its tunnel until idleTimeout.
const KEEP_ALIVE_DELAY = 30_000

/**
 * One open WebSocket tunnel: the client's socket and the target's, joined after the target's 101.
 * Bytes pass both ways untouched (frames, masking, permessage-deflate are the two ends' business),
 * with backpressure both ways through pipe(): a slow reader pauses the other side's socket, so
 * nothing queues in the proxy. It holds an in-flight slot on its target from open() to its close,
 * exactly once; either side closing or failing closes both, and so does a side left half-open.
 */
export class Tunnel implements ClosableTunnel {
  private readonly pool: UpstreamPool
  private readonly target: Target
  private readonly client: Duplex
  private readonly upstream: Duplex
  private closed = false
  private halfClosed: NodeJS.Timeout | undefined = undefined

  constructor (pool: UpstreamPool, target: Target, client: Duplex, upstream: Duplex) {
    this.pool = pool
    this.target = target
    this.client = client
    this.upstream = upstream
  }

  /**
   * Answers the client with `response` (the 101 head), passes on what the client sent after its
   * handshake, and joins the sockets: the place `handshake` held becomes this tunnel's. False when the pool closed during the handshake: both sockets
   * are closed and nothing was counted.
   */
  open (handshake: ClosableTunnel, response: string, clientHead: Buffer, settings: NormalizedWebSocket): boolean {
    const { client, upstream } = this
    if (!this.pool.tunnelOpened(handshake, this.target, this)) {
      this.closed = true
      client.destroy()
      upstream.destroy()
      return false
    }
    const close = (): void => this.close()
    client.on('error', close)
    client.on('close', close)
    // Not charged to the target: a client can make a strict server reset (invalid frames), and a
    // target that died fails its next handshake anyway.
    upstream.on('error', close)
    upstream.on('close', close)
    // One side sent its FIN (pipe() passes it on): the other has halfCloseTimeout to send its own.
    const { idleTimeout, halfCloseTimeout } = settings
    if (halfCloseTimeout !== 0) {
      const ended = (): void => {
        if (this.halfClosed !== undefined) return
        this.halfClosed = setTimeout(close, halfCloseTimeout)
        this.halfClosed.unref()
      }
      client.on('end', ended)
      upstream.on('end', ended)
    }
    for (const socket of [client, upstream] as Socket[]) {
      // undici hands over a TLS socket for an https target: both kinds have these.
      socket.setNoDelay(true)
      socket.setKeepAlive(true, KEEP_ALIVE_DELAY)
    }
    // Activity either way touches the client's socket (it reads one way and writes the other), so its
    // timer alone says whether the tunnel is idle; 0 also clears a timeout the server had set.
    ;(client as Socket).setTimeout(idleTimeout, idleTimeout === 0 ? undefined : () => this.close())
    // Header values were read as latin1 (one byte a character): written back the same way.
    client.write(response, 'latin1')
    if (clientHead.length > 0) upstream.write(clientHead)
    client.pipe(upstream)
    upstream.pipe(client)
    return true
  }

  /** Closes both sockets; the pool hears of it once. */
  close (): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.halfClosed)
    this.client.destroy()
    this.upstream.destroy()
    this.pool.tunnelClosed(this.target, this)
  }
}
