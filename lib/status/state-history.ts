import type { PoolObserver, StateChange } from '../pool/pool-events.js'

/**
 * The last `limit` state changes of every pool, oldest first: what the status page shows when it
 * opens, so one opened after an outage still tells what happened (HAProxy's stats page shows a
 * server's last change; this keeps the sequence). An observer of every pool from register on,
 * whether or not a page is open; a change costs one array slot, written over once the ring is full.
 */
export class StateHistory implements PoolObserver {
  private readonly limit: number
  private readonly ring: StateChange[] = []
  /** Where the next change goes once the ring is full: the oldest one. */
  private next = 0

  constructor (limit: number) {
    this.limit = limit
  }

  stateChanged (shared: StateChange): void {
    if (this.limit === 0) return
    // A copy: the same object goes on to app.lolly's listeners, which are user code.
    const change = { ...shared }
    if (this.ring.length < this.limit) {
      this.ring.push(change)
      return
    }
    this.ring[this.next] = change
    this.next = (this.next + 1) % this.limit
  }

  /** The kept changes, oldest first. */
  changes (): StateChange[] {
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)]
  }
}
