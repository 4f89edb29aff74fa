import { EventEmitter } from 'node:events'
import type { Discovery } from '../discovery/discovery.js'
import type { SourceSnapshot } from '../discovery/source-status.js'
import type { TargetOptions } from '../options/types.js'
import type { MembershipChange, PanicChange, StateChange } from '../pool/pool-events.js'
import type { TargetSnapshot } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import type { PoolDispatcher } from '../proxy/pool-dispatcher.js'
import { TargetManager } from './target-management.js'

/** One upstream as `app.lolly.upstreams[name]` shows it. */
export interface UpstreamView {
  readonly name: string
  /** Plain snapshots of the pool's targets, taken when read. */
  readonly targets: TargetSnapshot[]
  /** The pool as an undici dispatcher: `undici.request(url, { dispatcher })`. */
  readonly dispatcher: PoolDispatcher
  /** Whether the pool is in panic mode (balancing over every target that is not disabled or draining). */
  readonly panicking: boolean
}

export interface LollyEvents {
  state: [StateChange]
  panic: [PanicChange]
  target: [MembershipChange]
}

/**
 * `app.lolly`: what the plugin shows and lets you steer at runtime. Its events are for you: nothing of
 * fastify-lolly listens to them, so removing every listener breaks nothing.
 */
export class LollyApi extends EventEmitter<LollyEvents> {
  readonly upstreams: Readonly<Record<string, UpstreamView>>
  readonly defaultUpstream: string
  readonly #pools: UpstreamPool[]
  readonly #manager: TargetManager
  readonly #discovery: Discovery

  constructor (pools: ReadonlyMap<string, UpstreamPool>, dispatchers: ReadonlyMap<UpstreamPool, PoolDispatcher>, defaultUpstream: string, discovery: Discovery) {
    super()
    this.#pools = [...pools.values()]
    this.#discovery = discovery
    this.#manager = new TargetManager(pools)
    this.defaultUpstream = defaultUpstream
    const upstreams: Record<string, UpstreamView> = Object.create(null)
    for (const pool of this.#pools) {
      upstreams[pool.name] = Object.freeze({
        name: pool.name,
        dispatcher: dispatchers.get(pool)!,
        get targets () { return pool.snapshots() },
        get panicking () { return pool.health.panicking }
      })
    }
    this.upstreams = Object.freeze(upstreams)
  }

  /** Snapshots of every target of every pool. */
  get targets (): TargetSnapshot[] {
    return this.#pools.flatMap((pool) => pool.snapshots())
  }

  /** Every discovery source (`dns`, `srv`, `discover` entries) of every pool: what it answered, when, and how its lookups went. */
  get sources (): SourceSnapshot[] {
    return this.#discovery.snapshots()
  }

  // ---- runtime management (target-management.ts) ----

  /** Adds a target to an upstream: a URL or `{ url, weight, backup, down, maxConnections }`. */
  addTarget (upstream: string, target: string | TargetOptions): TargetSnapshot {
    return this.#manager.addTarget(upstream, target)
  }

  /**
   * Stops new traffic to a target, lets in-flight requests finish, closes its connections, forgets it.
   * A discovered target is refused (FST_LOLLY_DISCOVERED_TARGET): it leaves when its source drops it.
   */
  removeTarget (upstream: string, url: string): Promise<void> {
    return this.#manager.removeTarget(upstream, url)
  }

  /** State 'draining' (no new requests); resolves when the target has no request in flight. */
  drain (upstream: string, url: string): Promise<void> {
    return this.#manager.drain(upstream, url)
  }

  /** Puts a disabled or draining target back into service. */
  enable (upstream: string, url: string): void {
    this.#manager.enable(upstream, url)
  }

  /** State 'disabled': no new requests until enable(). */
  disable (upstream: string, url: string): void {
    this.#manager.disable(upstream, url)
  }

  /** Changes a target's weight (an integer from 1 to 1000000, as in the options); during slow start the ramp follows it. */
  setWeight (upstream: string, url: string, weight: number): void {
    this.#manager.setWeight(upstream, url, weight)
  }
}
