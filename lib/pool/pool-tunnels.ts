import type { NormalizedWebSocket } from '../options/websocket-options.js'
import { inService, type Target } from './target.js'

/** An open tunnel, as its pool sees it: something it can close. */
export interface ClosableTunnel {
  /** Closes both sockets now; the tunnel then reports itself closed (UpstreamPool#tunnelClosed). */
  close (): void
}

/**
 * The WebSocket tunnels of one pool: how many are open or opening (bounded by `maxTunnels`), which
 * are open on each target, and the timers that close those of a target taken out of service after
 * `drainTimeout`. Owned by its UpstreamPool, which tells it what happens; nothing else writes it.
 */
export class PoolTunnels {
  private readonly settings: NormalizedWebSocket
  private readonly open = new Map<Target, Set<ClosableTunnel>>()
  private readonly drains = new Map<Target, NodeJS.Timeout>()
  /** Handshakes in flight, which a closing pool calls off. */
  private readonly pending = new Set<ClosableTunnel>()
  /** Tunnels open plus handshakes in flight. */
  private count = 0
  private closing = false

  constructor (settings: NormalizedWebSocket) {
    this.settings = settings
  }

  /** Open tunnels and handshakes in flight. */
  get size (): number {
    return this.count
  }

  /** Whether the pool is closing: no new tunnel. */
  get closed (): boolean {
    return this.closing
  }

  /** Takes a place for the tunnel `handshake` is about to open; false when the pool is at maxTunnels or closed. */
  reserve (handshake: ClosableTunnel): boolean {
    if (this.closing || this.count >= this.settings.maxTunnels) return false
    this.count++
    this.pending.add(handshake)
    return true
  }

  /** The handshake ended without a tunnel: its place is given back. */
  release (handshake: ClosableTunnel): void {
    this.pending.delete(handshake)
    this.count--
  }

  /** The handshake's place became an open tunnel on `target`; false (and the place is given back) when the pool closed meanwhile. */
  add (handshake: ClosableTunnel, target: Target, tunnel: ClosableTunnel): boolean {
    this.pending.delete(handshake)
    if (this.closing) {
      this.count--
      return false
    }
    let set = this.open.get(target)
    if (set === undefined) this.open.set(target, set = new Set())
    set.add(tunnel)
    // Its handshake began before the target left service, and its 101 came after: it drains too.
    if (!inService(target)) this.serviceChanged(target, false)
    return true
  }

  remove (target: Target, tunnel: ClosableTunnel): void {
    const set = this.open.get(target)!
    set.delete(tunnel)
    this.count--
    if (set.size === 0) this.open.delete(target)
  }

  /**
   * `target` stopped taking new traffic (draining, disabled): its tunnels close after drainTimeout
   * unless it is back in service by then. Back in service, the timer is called off.
   */
  serviceChanged (target: Target, inService: boolean): void {
    const timer = this.drains.get(target)
    if (inService) {
      if (timer !== undefined) {
        clearTimeout(timer)
        this.drains.delete(target)
      }
      return
    }
    if (timer !== undefined || this.closing || !this.open.has(target)) return
    const delay = this.settings.drainTimeout
    const drain = setTimeout(() => {
      this.drains.delete(target)
      this.closeOn(target)
    }, delay)
    drain.unref()
    this.drains.set(target, drain)
  }

  /** The target left the pool: nothing to wait for any more. */
  forget (target: Target): void {
    this.serviceChanged(target, true)
    this.closeOn(target)
  }

  /** The pool closes: no new tunnel, every open one is closed now, and handshakes in flight are called off. */
  closeAll (): void {
    this.closing = true
    for (const handshake of [...this.pending]) handshake.close()
    for (const timer of this.drains.values()) clearTimeout(timer)
    this.drains.clear()
    for (const target of [...this.open.keys()]) this.closeOn(target)
  }

  private closeOn (target: Target): void {
    const set = this.open.get(target)
    if (set === undefined) return
    // Each close removes its tunnel from the set: close a copy.
    for (const tunnel of [...set]) tunnel.close()
  }
}
