import { performance } from 'node:perf_hooks'
import { Agent } from 'undici'
import type { NormalizedHealthCheck } from '../options/health-check-options.js'
import type { Target, TargetState } from '../target.js'
import type { MembershipChange } from '../upstream-pool.js'
import { probeRequestFor, runProbe, type ProbeOutcome, type ProbeRequest } from './probe.js'

/** What the checker needs of its pool: the targets and the one writer of their state. */
export interface CheckedPool {
  readonly targets: readonly Target[]
  target (url: string): Target | undefined
  setState (target: Target, to: TargetState, reason: string): boolean
}

/** One target's probe schedule and its run of consecutive results. */
class ProbeSlot {
  readonly target: Target
  readonly request: ProbeRequest
  passes = 0
  fails = 0
  /** The state the counts belong to: a change of state, by whoever, starts both counts over. */
  countedIn: TargetState | undefined = undefined
  timer: NodeJS.Timeout | undefined = undefined
  /** Aborts the probe in flight; undefined when none is. */
  controller: AbortController | undefined = undefined
  /** The last probe run, awaited by stop(). */
  run: Promise<void> | undefined = undefined
  /** Left the pool: a probe still in flight reports nothing and schedules no other. */
  removed = false

  constructor (target: Target, request: ProbeRequest) {
    this.target = target
    this.request = request
  }
}

/**
 * Active health checks of one pool: each target is probed on its own timer, `interval` apart (or
 * `unhealthyInterval` while it is unhealthy), counted from the end of the previous probe, so probes
 * of one target never overlap; at most `concurrency` run at once, the rest wait in line.
 *
 * State policy (through the pool's setState only, level-triggered so runtime changes by others are
 * picked up at the next probe):
 * - `unhealthyThreshold` failures in a row take a healthy (or ejected) target to 'unhealthy';
 * - `healthyThreshold` passes in a row bring an unhealthy target back;
 * - one pass ends a passive ejection early (Envoy's default);
 * - disabled and draining targets are still probed (lastCheck stays fresh for whoever re-enables
 *   them, and a re-enabled target that is failing goes out at its next failed probe) but their
 *   state is never touched.
 *
 * Probes go through an undici Agent of the checker's own, not the targets' pools: a pool at its
 * connection limit must not delay a probe into a timeout, and probes must not take connections
 * real traffic is waiting for. Nothing is logged per probe; setState reports transitions.
 */
export class ActiveChecker {
  private readonly pool: CheckedPool
  private readonly check: NormalizedHealthCheck
  private readonly agent: Agent
  private readonly slots = new Map<string, ProbeSlot>()
  /** Probes due while `concurrency` others were in flight, oldest first. */
  private readonly waiting: ProbeSlot[] = []
  private inflight = 0
  private started = false
  private stopped = false

  constructor (pool: CheckedPool, check: NormalizedHealthCheck, tlsRejectUnauthorized: boolean) {
    this.pool = pool
    this.check = check
    // undici's 300 s defaults would outlive the probe; the probe's own timer aborts it anyway, these
    // make sure no phase on its own can wait longer than the probe may take.
    this.agent = new Agent({
      headersTimeout: check.timeout,
      bodyTimeout: check.timeout,
      connect: { timeout: check.timeout, rejectUnauthorized: tlsRejectUnauthorized }
    })
    for (const target of pool.targets) this.add(target)
  }

  /** Schedules the first probe of every target (the app is ready). */
  start (): void {
    this.started = true
    for (const slot of this.slots.values()) this.armFirst(slot)
  }

  /** A target joined or left the pool at runtime (what the pool reports as a 'target' event). */
  onMembershipChange (change: Pick<MembershipChange, 'target' | 'change'>): void {
    if (this.stopped) return
    if (change.change === 'removed') {
      this.remove(change.target)
      return
    }
    const target = this.pool.target(change.target)
    if (target !== undefined && !this.slots.has(target.url)) {
      const slot = this.add(target)
      if (this.started) this.armFirst(slot)
    }
  }

  /** Cancels every timer, aborts probes in flight and waits for them: nothing happens after this. */
  async stop (): Promise<void> {
    this.stopped = true
    this.waiting.length = 0
    const runs: Array<Promise<void>> = []
    for (const slot of this.slots.values()) {
      this.cancel(slot)
      if (slot.run !== undefined) runs.push(slot.run)
    }
    await Promise.all(runs)
    await this.agent.destroy()
  }

  /**
   * Starts watching a target. With initialState 'unhealthy' it takes no traffic until it passes, at
   * start and when added at runtime alike (nginx's `mandatory` applies to servers added by API too).
   */
  private add (target: Target): ProbeSlot {
    const slot = new ProbeSlot(target, probeRequestFor(target, this.check))
    this.slots.set(target.url, slot)
    const { initialState, healthyThreshold } = this.check
    if (initialState === 'unhealthy' && target.state === 'healthy') {
      this.pool.setState(target, 'unhealthy', `active check: initial state, waiting for ${healthyThreshold} passing ${healthyThreshold === 1 ? 'probe' : 'probes'}`)
    }
    return slot
  }

  private remove (url: string): void {
    const slot = this.slots.get(url)
    if (slot === undefined) return
    this.slots.delete(url)
    slot.removed = true
    this.cancel(slot)
    const queued = this.waiting.indexOf(slot)
    if (queued !== -1) this.waiting.splice(queued, 1)
  }

  private cancel (slot: ProbeSlot): void {
    clearTimeout(slot.timer)
    slot.timer = undefined
    slot.controller?.abort()
  }

  /** The first probe comes within `jitter × interval`, so a fleet restarted together does not probe in step. */
  private armFirst (slot: ProbeSlot): void {
    this.arm(slot, Math.floor(Math.random() * this.check.jitter * this.check.interval))
  }

  // A new timer per wait rather than refresh(): with jitter, every wait has a different length.
  private arm (slot: ProbeSlot, delay: number): void {
    slot.timer = setTimeout(() => this.due(slot), delay)
    slot.timer.unref()
  }

  private due (slot: ProbeSlot): void {
    slot.timer = undefined
    if (this.inflight < this.check.concurrency) slot.run = this.probe(slot)
    else this.waiting.push(slot)
  }

  private async probe (slot: ProbeSlot): Promise<void> {
    this.inflight++
    const controller = new AbortController()
    slot.controller = controller
    const startedAt = performance.now()
    const outcome = await runProbe(this.agent, slot.request, this.check, controller)
    const durationMs = Math.round((performance.now() - startedAt) * 1000) / 1000
    slot.controller = undefined
    this.inflight--
    if (this.stopped) return
    const next = this.waiting.shift()
    if (next !== undefined) next.run = this.probe(next)
    if (slot.removed) return
    this.record(slot, outcome, durationMs)
    const base = slot.target.state === 'unhealthy' ? this.check.unhealthyInterval : this.check.interval
    // Uniform in base × (1 ± jitter/2): the mean stays `base`, targets that once fell into step drift apart.
    this.arm(slot, Math.round(base * (1 + this.check.jitter * (Math.random() - 0.5))))
  }

  private record (slot: ProbeSlot, outcome: ProbeOutcome, durationMs: number): void {
    const target = slot.target
    target.lastCheck = Object.freeze({ at: Date.now(), ok: outcome.ok, status: outcome.status, durationMs, error: outcome.error })
    const state = target.state
    if (slot.countedIn !== state) {
      slot.countedIn = state
      slot.passes = 0
      slot.fails = 0
    }
    if (outcome.ok) {
      slot.fails = 0
      slot.passes++
      if (state === 'ejected') {
        // Hysteresis against passive/active flapping: a first ejection ends early after
        // healthyThreshold passes made while ejected; a repeated one runs its (doubled) course.
        if (target.ejectionStreak <= 1 && slot.passes >= this.check.healthyThreshold) {
          this.pool.setState(target, 'healthy', `active check: passed ${slot.passes} in a row, ejection ended early`)
        }
      } else if (state === 'unhealthy' && slot.passes >= this.check.healthyThreshold) {
        this.pool.setState(target, 'healthy', `active check: passed ${slot.passes} in a row`)
      }
    } else {
      slot.passes = 0
      slot.fails++
      if ((state === 'healthy' || state === 'ejected') && slot.fails >= this.check.unhealthyThreshold) {
        this.pool.setState(target, 'unhealthy', `active check: ${outcome.error} (${slot.fails} ${slot.fails === 1 ? 'failure' : 'failures'} in a row)`)
      }
    }
  }
}
