import type { PoolFields, Target, TargetState } from './target.js'

// The ramp moves in this many steps: each one rebuilds the pool's balancers (at the next pick), so a
// step per request (or per millisecond) would cost more than it smooths. nginx Plus and HAProxy ramp
// in similar steps.
const STEPS = 10
// Share of its weight a target starts the ramp with: above 0 so it gets some traffic to prove itself.
const FIRST_SHARE = 0.1

interface Ramp {
  step: number
  timer: NodeJS.Timeout
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

  /** Called by the pool on every transition. */
  onStateChange (target: Target, from: TargetState, to: TargetState): void {
    if (to === 'healthy') this.begin(target)
    else if (from === 'healthy') this.stop(target)
  }

  /**
   * Starts the ramp of a target that just became available. It has none running: a ramp ends when
   * its target stops being healthy, and only a target that was not healthy becomes available.
   */
  begin (target: Target): void {
    const timer = setTimeout(() => this.advance(target), this.window / STEPS)
    timer.unref()
    this.ramps.set(target, { step: 0, timer })
    writable(target).effectiveWeight = rampedWeight(target.weight, 0)
  }

  /** The configured weight changed: keep the target where it is on its ramp. */
  weightChanged (target: Target): void {
    const ramp = this.ramps.get(target)
    writable(target).effectiveWeight = ramp === undefined ? target.weight : rampedWeight(target.weight, ramp.step)
  }

  /** Ends the ramp (the target stopped taking traffic, or left the pool). */
  stop (target: Target): void {
    const ramp = this.ramps.get(target)
    if (ramp === undefined) return
    clearTimeout(ramp.timer)
    this.ramps.delete(target)
    writable(target).effectiveWeight = target.weight
  }

  /** Clears every ramp's timer; its pool's TargetHealth is closed first, so no new ramp begins. */
  close (): void {
    for (const ramp of this.ramps.values()) clearTimeout(ramp.timer)
    this.ramps.clear()
  }

  private advance (target: Target): void {
    const ramp = this.ramps.get(target)!
    ramp.step++
    if (ramp.step >= STEPS) {
      this.ramps.delete(target)
      writable(target).effectiveWeight = target.weight
    } else {
      writable(target).effectiveWeight = rampedWeight(target.weight, ramp.step)
      ramp.timer.refresh()
    }
    this.weightsChanged()
  }
}

function writable (target: Target): PoolFields {
  return target
}
