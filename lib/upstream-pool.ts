import { Dispatcher } from 'undici'
import { BalancerSet } from './balancer-set.js'
import { PoolClosedError } from './errors.js'
import { PassiveHealth } from './health/passive-health.js'
import { IdleWaiters } from './idle-waiters.js'
import type { BalancerSpec, NormalizedTarget, NormalizedUpstream } from './options/types.js'
import { ProxyCall, type TryRecord } from './proxy-call.js'
import { RetryBudget } from './retry-budget.js'
import { SlowStart } from './slow-start.js'
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

/** The pool entered or left panic mode: reported once per change. */
export interface PanicChange {
  upstream: string
  panic: boolean
  /** Healthy targets, and targets that are neither disabled nor draining, when it changed. */
  available: number
  eligible: number
  at: number
}

/** A target was added to or removed from a pool at runtime. */
export interface MembershipChange {
  upstream: string
  target: string
  change: 'added' | 'removed'
  at: number
}

export interface PoolHooks {
  onStateChange (change: StateChange): void
  onPanic? (change: PanicChange): void
  onMembershipChange? (change: MembershipChange): void
  /** A request through the pool ended: its tries from index `from` on are new (metrics count them). */
  onTries? (upstream: string, tries: readonly TryRecord[], from: number): void
  now (): number
}

// Statuses that count as a target failure (the snapshot's `failures`) when passive health is off.
const FAILURE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])

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
  /** Retries in flight, bounded by `retry.budget` (ProxyCall takes and gives back slots). */
  readonly retryBudget = new RetryBudget()
  private readonly sets: BalancerSet[] = []
  private readonly setsByKey = new Map<string, BalancerSet>()
  /** The sets whose balancers follow in-flight counts (least-connections, bounded-load hashing): the only ones told of each request. */
  private readonly loadSets: BalancerSet[] = []
  private readonly byUrl = new Map<string, Target>()
  private readonly hooks: PoolHooks
  private closed = false
  /** Balancing over every target that is not disabled or draining (panicThreshold). */
  panicking = false
  /** Waiters of drain() and removeTarget(). */
  readonly idle = new IdleWaiters()
  private readonly failureStatuses: ReadonlySet<number>
  private readonly passive: PassiveHealth | undefined
  private readonly slowStart: SlowStart | undefined
  private closing: Promise<void> | undefined = undefined
  private destroying: Promise<void> | undefined = undefined

  constructor (config: NormalizedUpstream, hooks: PoolHooks) {
    super()
    this.name = config.name
    this.config = config
    this.hooks = hooks
    this.failureStatuses = config.passive === false ? FAILURE_STATUSES : new Set(config.passive.statuses)
    this.passive = config.passive === false ? undefined : new PassiveHealth(config.passive, this, hooks.now)
    this.slowStart = config.slowStart === 0 ? undefined : new SlowStart(config.slowStart, this)
    const now = hooks.now()
    for (const targetConfig of config.targets) this.addTargetInternal(new Target(targetConfig, config.name, config, now))
    this.balancers = this.balancerSet(config.balancer)
  }

  /** The pool's clock (ms since the epoch): Date.now unless the app injected another. */
  now (): number {
    return this.hooks.now()
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
      if (set.followsLoad) this.loadSets.push(set)
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
    this.passive?.onStateChange(target, from, to)
    this.slowStart?.onStateChange(target, from, to)
    if (to === 'healthy') this.idle.interrupt(target, this.name, `${target.url} became healthy (${reason})`)
    this.refresh()
    this.hooks.onStateChange({ upstream: this.name, target: target.url, from, to, reason, at })
    return true
  }

  /** Rebuilds every balancer from the targets' current states and weights. */
  refresh (): void {
    this.updateRoutable()
    for (const set of this.sets) this.rebuildSet(set)
  }

  private rebuildSet (set: BalancerSet): void {
    const primaries: Target[] = []
    const backups: Target[] = []
    for (const target of this.targets) {
      if (target.routable) (target.backup ? backups : primaries).push(target)
    }
    set.rebuild(primaries, backups)
  }

  /**
   * Decides which targets the balancers hold: the healthy ones, or in panic mode every target that is
   * not disabled or draining. Panic (Envoy's panic threshold) starts when fewer than `panicThreshold`
   * of those targets are healthy and no backup is: with few targets left, sending them all the
   * traffic would take them down too, and a health check that wrongly fails everywhere would fail every
   * request. A healthy backup is the configured answer to a primary outage, so it prevents panic.
   */
  private updateRoutable (): void {
    const targets = this.targets
    let eligible = 0
    let available = 0
    let availableBackups = 0
    for (const target of targets) {
      if (target.state === 'disabled' || target.state === 'draining') continue
      eligible++
      if (target.state === 'healthy') {
        available++
        if (target.backup) availableBackups++
      }
    }
    const threshold = this.config.panicThreshold
    const panic = threshold > 0 && eligible > 0 && availableBackups === 0 && available < threshold * eligible
    for (const target of targets) {
      target.routable = panic ? target.state !== 'disabled' && target.state !== 'draining' : target.state === 'healthy'
    }
    if (panic !== this.panicking) {
      this.panicking = panic
      this.hooks.onPanic?.({ upstream: this.name, panic, available, eligible, at: this.hooks.now() })
    }
  }

  // ---- runtime membership and weights (validated by target-management.ts) ----

  /** Adds a target; it takes traffic at once (through slow start when configured) unless `down`. */
  addTarget (config: NormalizedTarget): Target {
    if (this.closed) throw new PoolClosedError(this.name)
    const target = new Target(config, this.name, this.config, this.hooks.now())
    this.addTargetInternal(target)
    if (target.available) this.slowStart?.begin(target)
    this.refresh()
    this.hooks.onMembershipChange?.({ upstream: this.name, target: target.url, change: 'added', at: this.hooks.now() })
    return target
  }

  /** Forgets a target that takes no traffic any more; its dispatcher is the caller's to close. */
  detachTarget (target: Target): void {
    const at = this.targets.indexOf(target)
    if (at === -1) return
    this.targets.splice(at, 1)
    for (let i = at; i < this.targets.length; i++) this.targets[i].index = i
    this.byUrl.delete(target.url)
    this.passive?.forget(target)
    this.slowStart?.stop(target)
    this.refresh()
    this.hooks.onMembershipChange?.({ upstream: this.name, target: target.url, change: 'removed', at: this.hooks.now() })
  }

  setWeight (target: Target, weight: number): void {
    target.weight = weight
    if (this.slowStart === undefined) target.effectiveWeight = weight
    else this.slowStart.weightChanged(target)
    this.refresh()
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
    this.idle.ended(target)
  }

  private loadChanged (target: Target): void {
    const sets = this.loadSets
    for (let i = 0; i < sets.length; i++) sets[i].onLoadChange(target)
  }

  /** A try got response headers: a failure if the status is one passive health counts. */
  recordStatus (target: Target, status: number): void {
    if (this.failureStatuses.has(status)) {
      target.failures++
      target.consecutiveFailures++
      this.passive?.recordFailure(target, undefined, status)
    } else {
      target.consecutiveFailures = 0
      this.passive?.recordSuccess(target)
    }
  }

  /** A try failed without (or after) response headers: connection error, reset, timeout. */
  recordFailure (target: Target, reason: string): void {
    target.failures++
    target.consecutiveFailures++
    this.passive?.recordFailure(target, reason, 0)
  }

  /** A request ended; its tries from `from` on were not reported before (a caller may dispatch a call again). */
  recordTries (tries: readonly TryRecord[], from: number): void {
    this.hooks.onTries?.(this.name, tries, from)
  }

  /** Ejection and slow-start timers: nothing changes state after the pool closed. */
  private stopTimers (): void {
    this.passive?.close()
    this.slowStart?.close()
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
    // Idempotent: the app's onClose and a user may both close the pool; after destroy, close is done too.
    this.closed = true
    this.stopTimers()
    this.closing ??= this.destroying ?? Promise.all(this.targets.map((target) => target.dispatcher.destroyed ? undefined : target.dispatcher.close())).then(() => {})
    if (callback === undefined) return this.closing
    this.closing.then(callback, callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: () => void): void
  override destroy (err: Error | null, callback: () => void): void
  override destroy (errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback
    const err = typeof errOrCallback === 'function' ? null : (errOrCallback ?? null)
    this.closed = true
    this.stopTimers()
    this.destroying ??= Promise.all(this.targets.map((target) => target.dispatcher.destroy(err))).then(() => {})
    if (cb === undefined) return this.destroying
    this.destroying.then(cb, cb)
  }
}
