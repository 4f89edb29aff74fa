import { Dispatcher } from 'undici'
import { BalancerSet } from './balancer-set.js'
import { PoolClosedError } from './errors.js'
import type { BalancerSpec, NormalizedUpstream } from './options/types.js'
import { ProxyCall } from './proxy-call.js'
import { Target, type TargetSnapshot, type TargetState } from './target.js'

/** A target's state changed: emitted once per transition. */
export interface StateChange {
  upstream: string
  target: string
  from: TargetState
  to: TargetState
  reason: string
  at: number
}

export interface PoolHooks {
  onStateChange (change: StateChange): void
  now (): number
}

// Statuses that count as a target failure for the in-snapshot `failures` counter.
const FAILURE_STATUSES = new Set([502, 503, 504])

/**
 * A health-aware undici dispatcher over one upstream's targets. Every request through it (from
 * reply.from, or `undici.request(url, { dispatcher: pool })`) goes to a target its balancer picks
 * among those that can take traffic; each target has its own keep-alive connection pool.
 */
export class UpstreamPool extends Dispatcher {
  readonly name: string
  readonly config: NormalizedUpstream
  readonly targets: Target[] = []
  /** The pool's own balancing policy; routes may add others through `balancerSet`. */
  readonly balancers: BalancerSet
  /** Requests in flight over all targets. */
  inflight = 0
  private readonly sets: BalancerSet[] = []
  private readonly setsByKey = new Map<string, BalancerSet>()
  private readonly byUrl = new Map<string, Target>()
  private readonly hooks: PoolHooks
  private closed = false

  constructor (config: NormalizedUpstream, hooks: PoolHooks) {
    super()
    this.name = config.name
    this.config = config
    this.hooks = hooks
    const now = hooks.now()
    for (const targetConfig of config.targets) this.addTargetInternal(new Target(targetConfig, config.name, config, now))
    this.balancers = this.balancerSet(config.balancer)
  }

  target (url: string): Target | undefined {
    return this.byUrl.get(url)
  }

  snapshots (): TargetSnapshot[] {
    return this.targets.map((target) => target.snapshot())
  }

  /** The balancer set for a policy, shared by every route that asks for the same one. */
  balancerSet (spec: BalancerSpec): BalancerSet {
    const key = spec.hashKey.kind === 'function' ? undefined : `${spec.name}|${JSON.stringify(spec.hashKey)}|${spec.hashBalanceFactor}`
    let set = key === undefined ? undefined : this.setsByKey.get(key)
    if (set === undefined) {
      set = new BalancerSet(spec)
      this.sets.push(set)
      if (key !== undefined) this.setsByKey.set(key, set)
      this.rebuildSet(set)
    }
    return set
  }

  /** The one writer of target state. Returns false when the target was already in `to`. */
  setState (target: Target, to: TargetState, reason: string): boolean {
    const from = target.state
    if (from === to) return false
    const at = this.hooks.now()
    target.state = to
    target.since = at
    this.refresh()
    this.hooks.onStateChange({ upstream: this.name, target: target.url, from, to, reason, at })
    return true
  }

  /** Rebuilds every balancer from the targets' current states and weights. */
  refresh (): void {
    for (const set of this.sets) this.rebuildSet(set)
  }

  private rebuildSet (set: BalancerSet): void {
    const primaries: Target[] = []
    const backups: Target[] = []
    for (const target of this.targets) {
      if (target.available) (target.backup ? backups : primaries).push(target)
    }
    set.rebuild(primaries, backups)
  }

  private addTargetInternal (target: Target): void {
    target.index = this.targets.length
    this.targets.push(target)
    this.byUrl.set(target.url, target)
  }

  // ---- per-request accounting, called by ProxyCall ----

  begin (target: Target): void {
    target.inflight++
    target.requests++
    this.inflight++
    this.loadChanged(target)
  }

  end (target: Target): void {
    target.inflight--
    this.inflight--
    this.loadChanged(target)
  }

  private loadChanged (target: Target): void {
    const sets = this.sets
    for (let i = 0; i < sets.length; i++) sets[i].onLoadChange(target)
  }

  recordStatus (target: Target, status: number): void {
    if (FAILURE_STATUSES.has(status)) target.failures++
  }

  recordFailure (target: Target, _reason: string): void {
    target.failures++
  }

  // ---- undici Dispatcher ----

  override dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.dispatchFor(undefined, this.balancers, opts, handler)
  }

  /** Dispatches a request; `call` carries the Fastify request and route policy when there is one. */
  dispatchFor (call: ProxyCall | undefined, balancers: BalancerSet, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.closed) {
      handler.onError!(new PoolClosedError(this.name))
      return false
    }
    return (call ?? new ProxyCall(this, balancers, undefined)).dispatch(opts, handler)
  }

  override close (): Promise<void>
  override close (callback: () => void): void
  override close (callback?: () => void): Promise<void> | void {
    this.closed = true
    const done = Promise.all(this.targets.map((target) => target.dispatcher.close())).then(() => {})
    if (callback === undefined) return done
    done.then(callback, callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: () => void): void
  override destroy (err: Error | null, callback: () => void): void
  override destroy (errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback
    const err = typeof errOrCallback === 'function' ? null : (errOrCallback ?? null)
    this.closed = true
    const done = Promise.all(this.targets.map((target) => target.dispatcher.destroy(err))).then(() => {})
    if (cb === undefined) return done
    done.then(cb, cb)
  }
}
