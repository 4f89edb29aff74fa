import { EventEmitter } from 'node:events'
import type { TargetSnapshot } from './target.js'
import type { StateChange, UpstreamPool } from './upstream-pool.js'

/** One upstream as `app.lolly.upstreams[name]` shows it. */
export interface UpstreamView {
  readonly name: string
  /** Plain snapshots of the pool's targets, taken when read. */
  readonly targets: TargetSnapshot[]
  /** The pool itself: an undici dispatcher, usable as `undici.request(url, { dispatcher })`. */
  readonly dispatcher: UpstreamPool
}

export interface LollyEvents {
  state: [StateChange]
}

/** `app.lolly`: what the plugin shows and lets you steer at runtime. */
export class LollyApi extends EventEmitter<LollyEvents> {
  readonly upstreams: Readonly<Record<string, UpstreamView>>
  readonly defaultUpstream: string
  private readonly pools: UpstreamPool[]

  constructor (pools: Map<string, UpstreamPool>, defaultUpstream: string) {
    super()
    this.pools = [...pools.values()]
    this.defaultUpstream = defaultUpstream
    const upstreams: Record<string, UpstreamView> = Object.create(null)
    for (const pool of this.pools) {
      upstreams[pool.name] = Object.freeze({
        name: pool.name,
        dispatcher: pool,
        get targets () { return pool.snapshots() }
      })
    }
    this.upstreams = Object.freeze(upstreams)
  }

  /** Snapshots of every target of every pool. */
  get targets (): TargetSnapshot[] {
    return this.pools.flatMap((pool) => pool.snapshots())
  }
}
