import type { PassiveSettings } from '../options/types.js'
import type { Target, TargetState } from '../target.js'

/** What passive health needs of its pool: the targets (for the ejection cap) and the state writer. */
export interface PassiveHost {
  readonly targets: readonly Target[]
  setState (target: Target, to: TargetState, reason: string): boolean
}

/** One target's recent failures and ejection history. Made on its first failure, reused after. */
class FailureRecord {
  /** Ring of the last `maxFails` failure times (ms): fixed size, so counting a failure allocates nothing. */
  readonly times: Float64Array
  /** Next slot to write; once the ring is full it holds the oldest failure. */
  head = 0
  count = 0
  /** Ejections in a row not yet forgiven: the next one lasts ejectTime × 2^level. */
  level = 0
  /** When the last ejection ended (ms), 0 if there was none. */
  endedAt = 0
  /** Back from an ejection and not yet answered well: one failure ejects it again. */
  probation = false
  timer: NodeJS.Timeout | undefined = undefined

  constructor (size: number) {
    this.times = new Float64Array(size)
  }
}

/**
 * Passive health of one pool: failures of real traffic (connection errors, resets, timeouts, statuses
 * in `statuses`) eject a target when `maxFails` of them fall within `failWindow`.
 *
 * - An ejection lasts `ejectTime`, doubled for each ejection in a row up to `maxEjectTime`; every
 *   `ejectTime` spent out of ejection forgives one doubling (Envoy decrements its multiplier the
 *   same way), so a target that flapped once long ago starts again from `ejectTime`.
 * - When the ejection ends the target takes traffic again at once (Envoy), but on probation: its
 *   first answer decides, and a failure ejects it again straight away for the doubled time. That costs
 *   one failed request, like nginx's single trial request after fail_timeout, without a half-open state
 *   every balancer would have to know about.
 * - A passing active probe may end an ejection early (the active checker sets the state); the timer
 *   notices through onStateChange and is cleared.
 * - Never more than `maxEjectedPercent` of the pool's targets (not counting disabled or draining
 *   ones) are ejected at once, though at least one of two or more may be; a lone target is never
 *   ejected (nginx): taking out the only target turns every request into a 503 and helps nobody.
 *   Likewise the last healthy target of a pool whose others are down is never ejected passively;
 *   only an active check can take it out.
 */
export class PassiveHealth {
  private readonly settings: PassiveSettings
  private readonly host: PassiveHost
  private readonly now: () => number
  private readonly records = new Map<Target, FailureRecord>()
  /** Highest doubling level: ejectTime × 2^maxLevel is the first to reach maxEjectTime. */
  private readonly maxLevel: number
  /** Targets on probation; while 0 a good response costs one comparison. */
  private onProbation = 0
  private closed = false

  constructor (settings: PassiveSettings, host: PassiveHost, now: () => number) {
    this.settings = settings
    this.host = host
    this.now = now
    let level = 0
    while (settings.ejectTime * 2 ** level < settings.maxEjectTime) level++
    this.maxLevel = level
  }

  /** A response whose status does not count as a failure. */
  recordSuccess (target: Target): void {
    if (this.onProbation === 0) return
    const record = this.records.get(target)
    if (record !== undefined && record.probation) {
      record.probation = false
      this.onProbation--
    }
  }

  /**
   * A failure of real traffic: `reason` is an error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT) or
   * undefined when the target answered `status`. Failures of a target that is not healthy (panic
   * mode sends traffic to those) change nothing: it is out already.
   */
  recordFailure (target: Target, reason: string | undefined, status: number): void {
    if (this.closed || target.state !== 'healthy') return
    const record = this.recordOf(target)
    const now = this.now()
    if (record.probation) {
      record.probation = false
      this.onProbation--
      this.eject(target, record, now, true, reason, status)
      return
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
      this.eject(target, record, now, false, reason, status)
    }
  }

  /** Called by the pool on every transition, whoever caused it. */
  onStateChange (target: Target, from: TargetState, to: TargetState): void {
    if (from !== 'ejected') return
    // The ejection ended: by its timer, a passing active probe, or runtime management.
    const record = this.recordOf(target)
    clearTimeout(record.timer)
    record.timer = undefined
    record.endedAt = this.now()
    target.ejectedUntil = 0
    if (to === 'healthy' && !record.probation) {
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

  /** Stops every ejection timer; nothing changes state after this. */
  close (): void {
    this.closed = true
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

  private eject (target: Target, record: FailureRecord, now: number, afterProbation: boolean, reason: string | undefined, status: number): void {
    if (!this.mayEject()) return
    const { ejectTime, maxEjectTime, maxFails, failWindow } = this.settings
    if (record.endedAt !== 0) record.level = Math.max(0, record.level - Math.floor((now - record.endedAt) / ejectTime))
    const duration = Math.min(maxEjectTime, ejectTime * 2 ** record.level)
    if (record.level < this.maxLevel) record.level++
    target.ejectionStreak = record.level
    target.ejectedUntil = now + duration
    record.timer = setTimeout(() => this.endEjection(target, duration), duration)
    record.timer.unref()
    // The reason is built only now: a target the cap keeps in service allocates nothing per failure.
    const last = reason ?? `HTTP ${status}`
    const why = afterProbation
      ? `failed again right after its ejection (${last})`
      : `${maxFails} ${maxFails === 1 ? 'failure' : 'failures'} within ${formatMs(failWindow)} (last: ${last})`
    this.host.setState(target, 'ejected', `passive: ${why}; ejected for ${formatMs(duration)}`)
  }

  private endEjection (target: Target, duration: number): void {
    // A state change ending the ejection early clears this timer, so the target is still ejected here.
    this.host.setState(target, 'healthy', `ejection ended after ${formatMs(duration)}`)
  }

  /**
   * Whether one more (healthy) target may be ejected: never the last healthy one (the single-target
   * rule, extended to pools whose other targets are down already: ejecting it would turn every
   * request into a 503, while its own answers may still be good ones), and never beyond the cap.
   * Runs only when a target reaches maxFails, so scanning the pool here costs nothing per request.
   */
  private mayEject (): boolean {
    let eligible = 0
    let ejected = 0
    let healthy = 0
    const targets = this.host.targets
    for (let i = 0; i < targets.length; i++) {
      const state = targets[i].state
      if (state === 'disabled' || state === 'draining') continue
      eligible++
      if (state === 'ejected') ejected++
      else if (state === 'healthy') healthy++
    }
    if (healthy < 2) return false
    return ejected < Math.max(1, Math.floor(eligible * this.settings.maxEjectedPercent / 100))
  }
}

/** 10000 -> '10s', 1500 -> '1.5s', 250 -> '250ms': for reason strings people read in logs. */
export function formatMs (ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`
}
