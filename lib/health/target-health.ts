import type { NormalizedHealthCheck } from '../options/health-check-options.js'
import type { NormalizedTarget, PassiveSettings } from '../options/types.js'
import type { PanicChange, StateChange } from '../pool/pool-events.js'
import type { CheckResult, HealthFields, Target, TargetState } from '../pool/target.js'
import { HealthCounts } from './health-counts.js'
import { formatMs, PassiveEjection, type EjectionCause } from './passive-ejection.js'
import type { ProbeOutcome } from './probe.js'

/** The health rules of one pool, as its options give them. */
export interface HealthSettings {
  upstream: string
  passive: PassiveSettings | false
  /** Active checks' thresholds and initial state; null without active checks. */
  healthCheck: NormalizedHealthCheck | null
  /** Panic below this share (0 to 100) of eligible targets healthy; 0 is off. */
  panicPercent: number
}

/** What TargetHealth tells its pool after each transition. */
export interface HealthHost {
  /**
   * `target` changed state; `panic` is set when the pool entered or left panic mode with it; `resumed`
   * when it came back to its source within `hold` and returns to the state it left in (reinstate).
   */
  transitioned (target: Target, change: StateChange, panic: PanicChange | undefined, resumed: boolean): void
}

/** One target's run of probe results: a change of state, by whoever, starts both counts over. */
interface ProbeStreak {
  passes: number
  fails: number
}

/**
 * The one owner of a pool's health rules and the only writer of its targets' state and health
 * fields. Everything that can change a state is an input here:
 * - a probe result (the active checker): `healthyThreshold` passes in a row bring an unhealthy
 *   target back, `unhealthyThreshold` failures take a healthy (or ejected) one out;
 * - traffic (the pool): failures eject a target by the passive rules (passive-ejection.ts), a good
 *   answer ends its probation;
 * - timers: an ejection ends;
 * - operator commands: disable, drain, enable;
 * - membership: a target is born in its initial state and leaves with its records; a discovered
 *   one that leaves its source drains, and comes back in the state it left in.
 *
 * Rules that span sources live here too: a passing probe ends a first ejection early but not a
 * repeated one, and the pool-wide counts behind panic mode and the ejection cap are kept here.
 * Disabled and draining targets are still probed but their state is the operator's.
 */
export class TargetHealth {
  private readonly settings: HealthSettings
  private readonly host: HealthHost
  private readonly counts = new HealthCounts()
  private readonly passive: PassiveEjection | undefined
  private readonly streaks = new Map<Target, ProbeStreak>()
  /** Discovered targets that left their source, with the state they left in (see retire). */
  private readonly retired = new Map<Target, { state: TargetState, ejectedUntil: number, ejectedFor: number }>()
  private inPanic = false
  private closed = false

  constructor (settings: HealthSettings, host: HealthHost) {
    this.settings = settings
    this.host = host
    this.passive = settings.passive === false ? undefined : new PassiveEjection(settings.passive, (target, duration) => this.ejectionExpired(target, duration))
  }

  /** Balancing over every eligible target instead of the healthy ones (see HealthCounts#panicking). */
  get panicking (): boolean {
    return this.inPanic
  }

  /**
   * The state a target is born in: configured down, or waiting for its first passing probes with
   * initialState 'unhealthy' (nginx's `mandatory`, which holds for servers added by API too).
   */
  initialState (config: NormalizedTarget): TargetState {
    if (config.down) return 'disabled'
    return this.settings.healthCheck?.initialState ?? 'healthy'
  }

  /** A target joined the pool (born in `initialState`); returns the panic change it made, if any. */
  admit (target: Target): PanicChange | undefined {
    this.counts.add(target, target.state)
    return this.updatePanic()
  }

  /** A target left the pool: its records go, and it no longer counts. Returns the panic change it made, if any. */
  forget (target: Target): PanicChange | undefined {
    this.counts.remove(target, target.state)
    this.passive?.forget(target)
    this.streaks.delete(target)
    this.retired.delete(target)
    return this.updatePanic()
  }

  // ---- traffic ----

  /** A response whose status passive health does not count as a failure. */
  trafficSucceeded (target: Target): void {
    this.passive?.succeeded(target)
  }

  /**
   * A failure of real traffic: `reason` is an error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT), or
   * undefined when the target answered `status`. Failures of a target that is not healthy (panic
   * mode sends traffic to those) change nothing: it is out already.
   */
  trafficFailed (target: Target, reason: string | undefined, status: number): void {
    const passive = this.passive
    if (passive === undefined || this.closed || target.state !== 'healthy') return
    const now = Date.now()
    const cause = passive.failed(target, now)
    if (cause === undefined || !this.counts.mayEject(passive.settings.maxEjectedPercent)) return
    const duration = passive.eject(target, now)
    writable(target).ejectedUntil = now + duration
    // The reason is built only now: a target the cap keeps in service allocates nothing per failure.
    this.transition(target, 'ejected', `passive: ${ejectionReason(passive.settings, cause, reason ?? `HTTP ${status}`)}; ejected for ${formatMs(duration)}`)
  }

  // ---- probes ----

  /**
   * The result of an active probe of `target`. Only a pool with active checks has a checker, and
   * the checker stops before its pool closes.
   */
  probed (target: Target, outcome: ProbeOutcome, durationMs: number): void {
    const check = this.settings.healthCheck!
    const fields = writable(target)
    if (outcome.ok) fields.checksPassed++
    else fields.checksFailed++
    fields.lastCheck = Object.freeze<CheckResult>({ at: Date.now(), ok: outcome.ok, status: outcome.status, durationMs, error: outcome.error })
    const state = target.state
    const streak = this.streakOf(target)
    if (outcome.ok) {
      streak.fails = 0
      streak.passes++
      if (streak.passes < check.healthyThreshold) return
      if (state === 'unhealthy') {
        this.transition(target, 'healthy', `active check: passed ${streak.passes} in a row`)
      } else if (state === 'ejected' && !this.passive!.repeated(target)) {
        // (Only passive health ejects, so a pool with an ejected target has it.)
        // Hysteresis against passive/active flapping: a first ejection ends early after
        // healthyThreshold passes made while ejected; a repeated one runs its (doubled) course.
        this.transition(target, 'healthy', `active check: passed ${streak.passes} in a row, ejection ended early`)
      }
    } else {
      streak.passes = 0
      streak.fails++
      if ((state === 'healthy' || state === 'ejected') && streak.fails >= check.unhealthyThreshold) {
        this.transition(target, 'unhealthy', `active check: ${outcome.error} (${streak.fails} ${streak.fails === 1 ? 'failure' : 'failures'} in a row)`)
      }
    }
  }

  // ---- operator commands ----

  // An operator's command stands over a discovery source's: a retired target forgets the state it
  // would have returned to.

  /** Takes a target out of service at once; its in-flight requests finish. */
  disable (target: Target, reason: string): void {
    this.retired.delete(target)
    this.transition(target, 'disabled', reason)
  }

  /** Stops new traffic to a target; its in-flight requests finish. */
  drain (target: Target, reason: string): void {
    this.retired.delete(target)
    this.transition(target, 'draining', reason)
  }

  /**
   * Puts a disabled or draining target back into service. A target that is unhealthy or ejected
   * stays so: health decides about those, not the operator's enable.
   */
  enable (target: Target, reason: string): void {
    this.retired.delete(target)
    if (target.state === 'disabled' || target.state === 'draining') this.transition(target, 'healthy', reason)
  }

  /** The pool moves a target to another failover tier (`move` writes it): the counts behind panic mode follow. */
  recount (target: Target, move: () => void): PanicChange | undefined {
    this.counts.remove(target, target.state)
    move()
    this.counts.add(target, target.state)
    return this.updatePanic()
  }

  // ---- membership: a discovered target leaves its source and may come back ----

  /**
   * The target left its discovery source: it drains (no new requests) and remembers the state it had,
   * so that coming back within its source's `hold` returns it as it was.
   */
  retire (target: Target, reason: string): void {
    this.retired.set(target, { state: target.state, ejectedUntil: target.ejectedUntil, ejectedFor: target.ejectedUntil - target.since })
    this.transition(target, 'draining', reason)
  }

  /**
   * The target is back in its source before it was removed (or its source reports it ready again):
   * the state it had when it was retired, unless an operator changed it meanwhile (then theirs
   * stands). An ejection resumes for what is left of it; one that would have ended comes back
   * healthy, on probation as after any ejection.
   */
  reinstate (target: Target, reason: string): void {
    const before = this.retired.get(target)
    if (before === undefined) return
    this.retired.delete(target)
    const remaining = before.ejectedUntil - Date.now()
    if (before.state !== 'ejected') {
      this.transition(target, before.state, reason, true)
    } else if (remaining <= 0 || !this.counts.mayResumeEjection(this.passive!.settings.maxEjectedPercent)) {
      this.transition(target, 'healthy', `${reason}; ${remaining <= 0 ? 'its ejection ended while it was gone' : 'its ejection not resumed (maxEjectedPercent, or no other target healthy)'}`)
      // Back from an ejection: on probation, as when the ejection's timer ends it.
      this.passive!.ended(target, Date.now(), true)
    } else {
      writable(target).ejectedUntil = before.ejectedUntil
      this.transition(target, 'ejected', `${reason}; ejected for the ${formatMs(remaining)} left of its ejection`)
      this.passive!.resume(target, remaining, before.ejectedFor)
    }
  }

  /**
   * The one writer of `state`: every rule above ends here, and so does a test that sets a state
   * directly. Returns false when the target was in `to` already (or the pool is closed). `resumed`:
   * see HealthHost.
   */
  transition (target: Target, to: TargetState, reason: string, resumed = false): boolean {
    const from = target.state
    if (from === to || this.closed) return false
    const at = Date.now()
    const fields = writable(target)
    fields.state = to
    fields.since = at
    // Here, not at the next probe: a state that changes and changes back between two probes (an
    // ejection that ends, disable then enable) starts the counts over too.
    const streak = this.streaks.get(target)
    if (streak !== undefined) streak.passes = streak.fails = 0
    if (from === 'ejected') {
      fields.ejectedUntil = 0
      this.passive?.ended(target, at, to === 'healthy')
    }
    this.counts.move(target, from, to)
    const panic = this.updatePanic()
    this.host.transitioned(target, { upstream: this.settings.upstream, target: target.url, name: target.name, from, to, reason, at }, panic, resumed)
    return true
  }

  /** Stops every timer: nothing changes state after this. */
  close (): void {
    this.closed = true
    this.passive?.close()
  }

  /**
   * Panic mode as the pool starts, to be announced once its observers are there (a pool whose targets
   * are born unhealthy may start in it); undefined when it does not.
   */
  startingPanic (): PanicChange | undefined {
    return this.inPanic ? this.panicChange(true) : undefined
  }

  /** Re-evaluates panic mode; returns the change when it flipped. */
  private updatePanic (): PanicChange | undefined {
    const panicking = this.counts.panicking(this.settings.panicPercent)
    if (panicking === this.inPanic) return undefined
    this.inPanic = panicking
    return this.panicChange(panicking)
  }

  private panicChange (panicking: boolean): PanicChange {
    return { upstream: this.settings.upstream, panicking, available: this.counts.healthy, eligible: this.counts.eligible, at: Date.now() }
  }

  private ejectionExpired (target: Target, duration: number): void {
    // A state change ending the ejection early clears the timer, so the target is still ejected here.
    this.transition(target, 'healthy', `ejection ended after ${formatMs(duration)}`)
  }

  private streakOf (target: Target): ProbeStreak {
    let streak = this.streaks.get(target)
    if (streak === undefined) {
      streak = { passes: 0, fails: 0 }
      this.streaks.set(target, streak)
    }
    return streak
  }
}

function writable (target: Target): HealthFields {
  return target
}

function ejectionReason (settings: PassiveSettings, cause: EjectionCause, last: string): string {
  if (cause === 'probation') return `failed again right after its ejection (${last})`
  const { maxFails, failWindow } = settings
  return `${maxFails} ${maxFails === 1 ? 'failure' : 'failures'} within ${formatMs(failWindow)} (last: ${last})`
}
