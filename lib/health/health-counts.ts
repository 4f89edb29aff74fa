import type { Target, TargetState } from '../pool/target.js'

/**
 * How many of a pool's targets are in each state that matters to the pool-wide rules (panic mode
 * and the ejection cap), kept current on every admission, removal and transition, so neither rule
 * ever scans the targets.
 */
export class HealthCounts {
  /** Targets neither disabled nor draining: the ones health decides about. */
  eligible = 0
  healthy = 0
  ejected = 0
  /** Healthy backups: the configured answer to a primary outage (they prevent panic). */
  healthyBackups = 0

  add (target: Target, state: TargetState): void {
    this.count(target, state, 1)
  }

  remove (target: Target, state: TargetState): void {
    this.count(target, state, -1)
  }

  move (target: Target, from: TargetState, to: TargetState): void {
    this.count(target, from, -1)
    this.count(target, to, 1)
  }

  /**
   * Envoy's panic threshold: fewer than `percent` of the eligible targets are healthy and no backup
   * is. With few targets left, sending them all the traffic would take them down too, and a health
   * check that wrongly fails everywhere would fail every request. 0 turns it off.
   */
  panicking (percent: number): boolean {
    return percent > 0 && this.eligible > 0 && this.healthyBackups === 0 && this.healthy * 100 < percent * this.eligible
  }

  /**
   * Whether passive health may eject one more healthy target: never the last healthy one (nginx's
   * single-server rule, extended to pools whose others are down already: ejecting it would turn every
   * request into a 503, while its own answers may still be good), and never beyond `maxPercent` of the
   * eligible targets, though at least one of two or more may be.
   */
  mayEject (maxPercent: number): boolean {
    return this.healthy >= 2 && this.ejected < Math.max(1, Math.floor(this.eligible * maxPercent / 100))
  }

  /**
   * Whether a target back in its source within hold (out of the counts while it was draining) may
   * resume its ejection: the same two rules, counting it. Without this a flapping answer could bring
   * every target back ejected, and none would take traffic (found by test/fuzz/health-model.test.ts).
   */
  mayResumeEjection (maxPercent: number): boolean {
    return this.healthy >= 1 && this.ejected < Math.max(1, Math.floor((this.eligible + 1) * maxPercent / 100))
  }

  private count (target: Target, state: TargetState, by: number): void {
    if (state === 'disabled' || state === 'draining') return
    this.eligible += by
    if (state === 'ejected') {
      this.ejected += by
    } else if (state === 'healthy') {
      this.healthy += by
      if (target.backup) this.healthyBackups += by
    }
  }
}
