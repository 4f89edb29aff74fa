import type { BalancerSet, Exclusion } from '../balancers/balancer-set.js'
import { PoolClosedError } from '../errors.js'
import { RetryBudget } from '../failover/retry-budget.js'
import { TargetHealth, type HealthHost } from '../health/target-health.js'
import type { BalancerSpec, NormalizedTarget, NormalizedUpstream } from '../options/types.js'
import { BalancerSets } from './balancer-sets.js'
import { IdleWaiters } from './idle-waiters.js'
import type { LollyTracer } from '../tracing/lolly-tracer.js'
import { PoolTunnels, type ClosableTunnel } from './pool-tunnels.js'
import { PoolObservers, type PanicChange, type PoolObserver, type StateChange, type TryRecord } from './pool-events.js'
import { SlowStart } from './slow-start.js'
import { inService, Target, type PoolFields, type TargetSnapshot } from './target.js'
import { WaitingTries } from './waiting-tries.js'

// Statuses that count as a target failure (the snapshot's `failures`) when passive health is off.
const FAILURE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])
// Weight of the newest sample in the latency EWMA: about the last 10 responses dominate.
const LATENCY_ALPHA = 0.1

/**
 * One upstream's targets: who they are (membership), what they carry (in-flight counts, traffic
 * accounting, weights) and which of them a request may go to (its balancer sets, rebuilt lazily).
 * Health rules belong to its TargetHealth, the proxy path to lib/proxy; both come here to pick a
 * target and to report what a try did. Everything that happens is told to its observers.
 */
export class UpstreamPool implements HealthHost {
  readonly name: string
  readonly config: NormalizedUpstream
  readonly targets: readonly Target[] = []
  /** The one writer of the targets' state (lib/health/target-health.ts). */
  readonly health: TargetHealth
  /** Retries in flight, bounded by `retry.budget` (the proxy path takes and gives back slots). */
  readonly retryBudget = new RetryBudget()
  /** Waiters of drain() and removeTarget(). */
  readonly idle = new IdleWaiters()
  /** Tries waiting for their answer, per target (the proxy path adds and removes its own). */
  readonly waitingTries = new WaitingTries()
  /** Its WebSocket tunnels (lib/tunnel opens them; the pool accounts for them and closes them). */
  readonly tunnels: PoolTunnels
  /** The pool's own balancing policy; routes may add others through `balancerSet`. */
  readonly balancers: BalancerSet
  /** Traces its tries and probes (lib/tracing); null: tracing is off or @opentelemetry/api is not installed. */
  readonly tracer: LollyTracer | null
  private readonly sets = new BalancerSets()
  private readonly observers = new PoolObservers()
  private readonly byUrl = new Map<string, Target>()
  /** Targets by origin (several may share one, under different base paths). */
  private readonly byOrigin = new Map<string, Target[]>()
  private readonly failureStatuses: ReadonlySet<number>
  private readonly slowStart: SlowStart | undefined
  /** A panic change was reported (see announceStart). */
  private panicReported = false
  private closing: Promise<void> | undefined = undefined
  private destroying: Promise<void> | undefined = undefined

  constructor (config: NormalizedUpstream, tracer: LollyTracer | null = null) {
    this.name = config.name
    this.tracer = tracer
    this.config = config
    this.failureStatuses = config.passive === false ? FAILURE_STATUSES : new Set(config.passive.statuses)
    this.health = new TargetHealth({ upstream: config.name, passive: config.passive, healthCheck: config.healthCheck, panicPercent: config.panicPercent }, this)
    this.slowStart = config.slowStart === 0 ? undefined : new SlowStart(config.slowStart, () => this.sets.invalidate())
    this.tunnels = new PoolTunnels(config.websocket)
    for (const targetConfig of config.targets) this.admit(targetConfig)
    this.balancers = this.sets.get(config.balancer)
  }

  /** Whether the pool was closed or destroyed: it takes no new request. */
  get closed (): boolean {
    return this.closing !== undefined || this.destroying !== undefined
  }

  /** Adds an observer (told before the one set by observeLast); the returned function removes it. */
  observe (observer: PoolObserver): () => void {
    return this.observers.add(observer)
  }

  /** Sets the observer told after every other: the public emitter, whose listeners are user code. */
  observeLast (observer: PoolObserver): void {
    this.observers.setLast(observer)
  }

  /**
   * Tells the observers of panic mode the pool started in (its targets born unhealthy), once the app
   * is ready and they are all listening; unless a change since then already told them.
   */
  announceStart (): void {
    const panic = this.health.startingPanic()
    if (panic !== undefined && !this.panicReported) this.reportPanic(panic)
  }

  target (url: string): Target | undefined {
    return this.byUrl.get(url)
  }

  /** The targets at `origin` (`scheme://host:port`), if any. */
  targetsAt (origin: string): readonly Target[] | undefined {
    return this.byOrigin.get(origin)
  }

  snapshots (): TargetSnapshot[] {
    return this.targets.map((target) => target.snapshot())
  }

  /** The balancer set for a policy, shared by every route that asks for the same one. */
  balancerSet (spec: BalancerSpec): BalancerSet {
    return this.sets.get(spec)
  }

  // ---- picking, for the proxy path ----

  /** A target of `set` for hash key `key` that can take the request and that `exclusion` allows; undefined when none can. */
  pick (set: BalancerSet, key: string, exclusion: Exclusion): Target | undefined {
    this.sets.refresh(this.targets, this.health.panicking)
    return set.pick(key, exclusion)
  }

  /** Whether `target` is of the first tier that has targets in the balancers (what a pick would look at first). */
  inFirstTier (target: Target): boolean {
    this.sets.refresh(this.targets, this.health.panicking)
    return target.tier <= this.sets.firstTier
  }

  /** Whether `target` may take a new request now (a retry planned before a backoff checks again). */
  canTake (target: Target): boolean {
    this.sets.refresh(this.targets, this.health.panicking)
    return target.canTake()
  }

  // ---- what each try did, reported by the proxy path ----

  tryStarted (target: Target): void {
    const fields = writable(target)
    fields.inflight++
    fields.requests++
    this.sets.loadChanged(target)
  }

  tryEnded (target: Target): void {
    writable(target).inflight--
    this.sets.loadChanged(target)
    this.idle.ended(target)
  }

  /** A try got response headers after `durationMs`: a failure if the status is one passive health counts. */
  tryAnswered (target: Target, status: number, durationMs: number): void {
    const fields = writable(target)
    const statusClass = (status / 100) | 0
    target.responseClasses[statusClass >= 1 && statusClass <= 5 ? statusClass : 0]++
    fields.latencyMs = target.latencyMs < 0 ? durationMs : target.latencyMs + LATENCY_ALPHA * (durationMs - target.latencyMs)
    if (this.failureStatuses.has(status)) {
      fields.failures++
      fields.consecutiveFailures++
      this.health.trafficFailed(target, undefined, status)
    } else {
      fields.consecutiveFailures = 0
      this.health.trafficSucceeded(target)
    }
  }

  /** A try failed without (or after) response headers: connection error, reset, timeout. */
  tryFailed (target: Target, reason: string): void {
    const fields = writable(target)
    fields.failures++
    fields.errors++
    fields.consecutiveFailures++
    this.health.trafficFailed(target, reason, 0)
  }

  /** A try of a WebSocket handshake ended without upgrading (a client's leaving aside). */
  handshakeFailed (target: Target): void {
    writable(target).handshakesFailed++
  }

  /**
   * `handshake` upgraded: the tunnel holds an in-flight slot on `target` until tunnelClosed. False
   * when the pool closed meanwhile: the caller closes the tunnel, which was never counted.
   */
  tunnelOpened (handshake: ClosableTunnel, target: Target, tunnel: ClosableTunnel): boolean {
    if (!this.tunnels.add(handshake, target, tunnel)) return false
    const fields = writable(target)
    fields.tunnels++
    fields.tunnelsOpened++
    fields.inflight++
    this.sets.loadChanged(target)
    return true
  }

  tunnelClosed (target: Target, tunnel: ClosableTunnel): void {
    this.tunnels.remove(target, tunnel)
    writable(target).tunnels--
    this.tryEnded(target)
  }

  /** The target asked not to be sent requests before `until` (Retry-After on a 503). */
  holdOff (target: Target, until: number): void {
    writable(target).retryAfterUntil = until
  }

  /** A request ended; its tries are tries[from] up to tries[to]. */
  requestSettled (tries: readonly TryRecord[], from: number, to: number): void {
    this.observers.requestSettled(this.name, tries, from, to)
  }

  // ---- what TargetHealth tells the pool ----

  transitioned (target: Target, change: StateChange, panic: PanicChange | undefined, resumed: boolean): void {
    this.slowStart?.onStateChange(target, change.from, change.to, resumed)
    if (change.to === 'healthy') this.idle.interrupt(target, this.name, `${target.url} became healthy (${change.reason})`)
    this.sets.invalidate()
    this.tunnels.serviceChanged(target, inService(target))
    if (panic !== undefined) this.reportPanic(panic)
    this.observers.stateChanged(change, target)
    // Out for its health (not drained or disabled, whose requests in flight finish): the requests
    // stuck on it move on now (waiting-tries.ts).
    if (change.to === 'ejected' || change.to === 'unhealthy') this.waitingTries.targetDown(target)
  }

  private reportPanic (panic: PanicChange): void {
    this.panicReported = true
    this.observers.panicChanged(panic)
  }

  // ---- runtime membership and weights (validated by lib/operator/target-management.ts) ----

  /** Adds a target; it takes traffic at once (through slow start when configured) unless born otherwise. */
  addTarget (config: NormalizedTarget): Target {
    if (this.closed) throw new PoolClosedError(this.name)
    const { target, panic } = this.admit(config)
    if (target.state === 'healthy') this.slowStart?.begin(target)
    if (panic !== undefined) this.reportPanic(panic)
    this.observers.membershipChanged({ upstream: this.name, target: target.url, name: target.name, change: 'added', source: target.source, at: Date.now() }, target)
    return target
  }

  /** Forgets a target that takes no traffic any more; its dispatcher is the caller's to close. */
  detachTarget (target: Target): void {
    const targets = this.targets as Target[]
    const at = targets.indexOf(target)
    if (at === -1) return
    targets.splice(at, 1)
    // Out of every balancer at once, not at the next rebuild: a retry planned to it checks canTake().
    writable(target).routable = false
    for (let i = at; i < targets.length; i++) writable(targets[i]).index = i
    this.byUrl.delete(target.url)
    const sameOrigin = this.byOrigin.get(target.origin)!.filter((other) => other !== target)
    if (sameOrigin.length === 0) this.byOrigin.delete(target.origin)
    else this.byOrigin.set(target.origin, sameOrigin)
    this.slowStart?.stop(target)
    this.tunnels.forget(target)
    const panic = this.health.forget(target)
    this.sets.invalidate()
    if (panic !== undefined) this.reportPanic(panic)
    this.observers.membershipChanged({ upstream: this.name, target: target.url, name: target.name, change: 'removed', source: target.source, at: Date.now() }, target)
  }

  setWeight (target: Target, weight: number): void {
    writable(target).weight = weight
    if (this.slowStart === undefined) writable(target).effectiveWeight = weight
    else this.slowStart.weightChanged(target)
    this.sets.invalidate()
  }

  /**
   * A source moved a target to another failover tier (an SRV priority that changed rank) or changed
   * its cap: in place, so it keeps its state, counters and connections.
   */
  retune (target: Target, tier: number, maxConnections: number): void {
    const fields = writable(target)
    fields.maxConnections = maxConnections
    if (target.tier !== tier) {
      const panic = this.health.recount(target, () => { fields.tier = tier })
      if (panic !== undefined) this.reportPanic(panic)
    }
    this.sets.invalidate()
  }

  private admit (config: NormalizedTarget): { target: Target, panic: PanicChange | undefined } {
    const target = new Target(config, this.name, this.config, this.health.initialState(config), Date.now())
    writable(target).index = this.targets.length
    ;(this.targets as Target[]).push(target)
    this.byUrl.set(target.url, target)
    const sameOrigin = this.byOrigin.get(target.origin)
    if (sameOrigin === undefined) this.byOrigin.set(target.origin, [target])
    else sameOrigin.push(target)
    this.sets.invalidate()
    return { target, panic: this.health.admit(target) }
  }

  // ---- lifecycle ----

  /** Stops taking requests, lets those in flight finish, closes every target's connections. Idempotent. */
  close (): Promise<void> {
    this.stopTimers()
    this.closing ??= this.destroying ?? Promise.all(this.targets.map((target) => target.dispatcher.destroyed ? undefined : target.dispatcher.close())).then(() => {})
    return this.closing
  }

  /** Aborts every request in flight and closes every connection. Idempotent. */
  destroy (err: Error | null): Promise<void> {
    this.stopTimers()
    this.destroying ??= Promise.all(this.targets.map((target) => target.dispatcher.destroy(err))).then(() => {})
    return this.destroying
  }

  /** Ejection, slow-start and drain timers, and the tunnels: nothing changes state after the pool closed. */
  private stopTimers (): void {
    this.tunnels.closeAll()
    this.health.close()
    this.slowStart?.close()
  }
}

function writable (target: Target): PoolFields {
  return target
}
