import type { PassiveSettings } from '../options/types.js'
import type { Target } from '../pool/target.js'

/** One target's recent failures and ejection history. Made on its first failure, reused after. */
class FailureRecord {
  /** Ring of the last `maxFails` failure times (ms): fixed size, so counting a failure allocates nothing. */
  readonly times: Float64Array
  /** Next slot to write; once the ring is full it holds the oldest failure. */
  head = 0
  count = 0
  /** Ejections in a row not yet forgiven: the next one lasts ejectTime × 2^level. */
  level = 0
  /** The current (or last) ejection came before the one before it was forgiven. */
  repeated = false
  /** When the last ejection ended (ms), 0 if there was none. */
  endedAt = 0
  /** Back from an ejection and not yet answered well: one failure ejects it again. */
  probation = false
  timer: NodeJS.Timeout | undefined = undefined

  constructor (size: number) {
    this.times = new Float64Array(size)
  }
}

/** Why a failure calls for an ejection: the window filled up, or the target failed on probation. */
export type EjectionCause = 'window' | 'probation'

/**
 * The passive health rules of one pool, as numbers: failures of real traffic eject a target when
 * `maxFails` of them fall within `failWindow`. It decides and times; TargetHealth writes the state.
 *
 * - An ejection lasts `ejectTime`, doubled for each ejection in a row up to `maxEjectTime`; every
 *   `ejectTime` spent out of ejection forgives one doubling (Envoy decrements its multiplier the
 *   same way), so a target that flapped once long ago starts again from `ejectTime`.
 * - When the ejection ends the target takes traffic again at once (Envoy), but on probation: its
 *   first answer decides, and a failure ejects it again straight away for the doubled time. That costs
 *   one failed request, like nginx's single trial request after fail_timeout, without a half-open state
 *   every balancer would have to know about.
 */
export class PassiveEjection {
  readonly settings: PassiveSettings
  private readonly onExpired: (target: Target, duration: number) => void
  private readonly records = new Map<Target, FailureRecord>()
  /**
   * Highest doubling level: ejectTime × 2^maxLevel is the first to reach maxEjectTime. At least 1, so
   * a repeated ejection is told from a first one when maxEjectTime leaves nothing to double.
   */
  private readonly maxLevel: number
  /** Targets on probation; while 0 a good response costs one comparison. */
  private onProbation = 0

  constructor (settings: PassiveSettings, onExpired: (target: Target, duration: number) => void) {
    this.settings = settings
    this.onExpired = onExpired
    let level = 0
    while (settings.ejectTime * 2 ** level < settings.maxEjectTime) level++
    this.maxLevel = Math.max(1, level)
  }

  /** A response whose status does not count as a failure: it ends a probation. */
  succeeded (target: Target): void {
    if (this.onProbation === 0) return
    const record = this.records.get(target)
    if (record !== undefined && record.probation) {
      record.probation = false
      this.onProbation--
    }
  }

  /** Counts a failure of a healthy target; says when it calls for an ejection (which the cap may still refuse). */
  failed (target: Target, now: number): EjectionCause | undefined {
    const record = this.recordOf(target)
    if (record.probation) {
      record.probation = false
      this.onProbation--
      return 'probation'
    }
    const times = record.times
    times[record.head] = now
    record.head = record.head + 1 === times.length ? 0 : record.head + 1
    if (record.count < times.length) record.count++
    // The ring is full and its oldest failure (the next slot) is still inside the window.
    if (record.count === times.length && now - times[record.head] <= this.settings.failWindow) {
      // Counting starts over either way: after an ejection, or when the cap refused one (so a capped
      // target is reconsidered after maxFails more failures, not on every single one).
      record.count = 0
      return 'window'
    }
    return undefined
  }

  /** Starts an ejection: returns how long it lasts and arms the timer that ends it. */
  eject (target: Target, now: number): number {
    const record = this.recordOf(target)
    const { ejectTime, maxEjectTime } = this.settings
    if (record.endedAt !== 0) record.level = Math.max(0, record.level - Math.floor((now - record.endedAt) / ejectTime))
    record.repeated = record.level > 0
    const duration = Math.min(maxEjectTime, ejectTime * 2 ** record.level)
    if (record.level < this.maxLevel) record.level++
    record.timer = setTimeout(() => {
      record.timer = undefined
      this.onExpired(target, duration)
    }, duration)
    record.timer.unref()
    return duration
  }

  /**
   * Resumes an ejection that was cut short without being forgiven (a discovered target that left
   * its source and came back): the rest of it, `remaining` ms, at the same doubling level.
   */
  resume (target: Target, remaining: number, duration: number): void {
    const record = this.recordOf(target)
    record.timer = setTimeout(() => {
      record.timer = undefined
      this.onExpired(target, duration)
    }, remaining)
    record.timer.unref()
  }

  /** Whether the target's ejection came while an earlier one was not yet forgiven (not a first one). */
  repeated (target: Target): boolean {
    return this.recordOf(target).repeated
  }

  /** The ejection ended (its timer, a passing probe, runtime management); back to `healthy` means probation. */
  ended (target: Target, now: number, healthy: boolean): void {
    const record = this.recordOf(target)
    clearTimeout(record.timer)
    record.timer = undefined
    record.endedAt = now
    if (healthy && !record.probation) {
      record.probation = true
      this.onProbation++
    }
  }

  /** The target left the pool. */
  forget (target: Target): void {
    const record = this.records.get(target)
    if (record === undefined) return
    clearTimeout(record.timer)
    if (record.probation) this.onProbation--
    this.records.delete(target)
  }

  /** Stops every ejection timer. */
  close (): void {
    for (const record of this.records.values()) clearTimeout(record.timer)
  }

  private recordOf (target: Target): FailureRecord {
    let record = this.records.get(target)
    if (record === undefined) {
      record = new FailureRecord(this.settings.maxFails)
      this.records.set(target, record)
    }
    return record
  }
}

/** 10000 -> '10s', 1500 -> '1.5s', 250 -> '250ms': for reason strings people read in logs. */
export function formatMs (ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`
}
