import type { PoolFields, Target, TargetState } from './target.js'

// The ramp moves in this many steps: each one rebuilds the pool's balancers (at the next pick), so a
// step per request (or per millisecond) would cost more than it smooths. nginx Plus and HAProxy ramp
// in similar steps.
const STEPS = 10
// Share of its weight a target starts the ramp with: above 0 so it gets some traffic to prove itself.
const FIRST_SHARE = 0.1

interface Ramp {
  step: number
  /** When the ramp began (ms since the epoch): a ramp resumed after a discovery flap goes on from it. */
  startedAt: number
  /** Undefined while the target is out of service: the ramp waits, in case it resumes. */
  timer: NodeJS.Timeout | undefined
}

/** Effective weight at `step` of the ramp: 10 % of `weight` at step 0, 100 % at step STEPS. */
export function rampedWeight (weight: number, step: number): number {
  return weight * (FIRST_SHARE + (1 - FIRST_SHARE) * step / STEPS)
}

/**
 * Slow start: a target that becomes available again (not at startup, where every target is equally
 * cold) or is added at runtime gets 10 % of its weight, rising in ten even steps to 100 % over
 * `window` ms, so caches, JIT and connection pools warm up before it takes its full share (nginx
 * slow_start, HAProxy slowstart, Envoy's slow start window). One unref'd timer per ramping target.
 * A discovered target back in its source within `hold` was never down: it goes on with the ramp it
 * had, where the time since it began puts it (a DNS answer that flaps every lookup would otherwise
 * hold it at 10 % for good).
 * Part of the pool: it writes the targets' effective weights, and `weightsChanged` tells the pool.
 */
export class SlowStart {
  private readonly window: number
  private readonly weightsChanged: () => void
  private readonly ramps = new Map<Target, Ramp>()

  constructor (window: number, weightsChanged: () => void) {
    this.window = window
    this.weightsChanged = weightsChanged
  }

  /** Called by the pool on every transition; `resumed`: see HealthHost.transitioned. */
  onStateChange (target: Target, from: TargetState, to: TargetState, resumed: boolean): void {
    if (to === 'healthy') {
      if (resumed) this.resume(target)
      else this.begin(target)
    } else if (from === 'healthy') {
      this.pause(target)
    }
  }

  /**
   * Starts the ramp of a target that just became available, over any it had. None is running: a ramp
   * waits once its target stops being healthy, and only a target that was not healthy becomes available.
   */
  begin (target: Target): void {
    this.ramps.set(target, { step: 0, startedAt: Date.now(), timer: this.stepTimer(target) })
    writable(target).effectiveWeight = rampedWeight(target.weight, 0)
  }

  /** The configured weight changed: keep the target where it is on its ramp. */
  weightChanged (target: Target): void {
    const ramp = this.ramps.get(target)
    writable(target).effectiveWeight = ramp?.timer === undefined ? target.weight : rampedWeight(target.weight, ramp.step)
  }

  /** Ends the ramp: the target left the pool. */
  stop (target: Target): void {
    this.pause(target)
    this.ramps.delete(target)
  }

  /** Clears every ramp's timer; its pool's TargetHealth is closed first, so no new ramp begins. */
  close (): void {
    for (const ramp of this.ramps.values()) clearTimeout(ramp.timer)
    this.ramps.clear()
  }

  /** The target stopped taking traffic: its ramp waits (a new one replaces it, unless it resumes). */
  private pause (target: Target): void {
    const ramp = this.ramps.get(target)
    if (ramp === undefined) return
    clearTimeout(ramp.timer)
    ramp.timer = undefined
    writable(target).effectiveWeight = target.weight
  }

  /** Back in service as it was: the ramp it had goes on at the step its age gives it (none had ended). */
  private resume (target: Target): void {
    const ramp = this.ramps.get(target)
    if (ramp === undefined) return
    const step = Math.floor((Date.now() - ramp.startedAt) * STEPS / this.window)
    if (step >= STEPS) {
      this.ramps.delete(target)
      return
    }
    ramp.step = step
    ramp.timer = this.stepTimer(target)
    writable(target).effectiveWeight = rampedWeight(target.weight, step)
  }

  private stepTimer (target: Target): NodeJS.Timeout {
    const timer = setTimeout(() => this.advance(target), this.window / STEPS)
    timer.unref()
    return timer
  }

  private advance (target: Target): void {
    const ramp = this.ramps.get(target)!
    ramp.step++
    if (ramp.step >= STEPS) {
      this.ramps.delete(target)
      writable(target).effectiveWeight = target.weight
    } else {
      writable(target).effectiveWeight = rampedWeight(target.weight, ramp.step)
      ramp.timer!.refresh()
    }
    this.weightsChanged()
  }
}

function writable (target: Target): PoolFields {
  return target
}
