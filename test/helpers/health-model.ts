import type { TargetChange } from '../../lib/cli/reload-plan.js'
import type { TargetState } from '../../lib/pool/target.js'

// A reference model of one pool's health owner (lib/health/target-health.ts with passive-ejection,
// lib/pool/slow-start.ts, the membership of lib/discovery/source-members.ts and the runtime calls of
// lib/operator/target-management.ts), written from README "Health", "Passive health", "Slow start",
// "Runtime management" and "How an answer changes the pool". It keeps plain fields and lists where
// the library keeps rings, counters and maps, so the two can disagree. test/fuzz/health-model.test.ts
// drives both with the same steps and compares them after each one.

/**
 * Every transition the README's state table and the health owner allow, and who makes it:
 * - healthy → unhealthy (failed probes), ejected (passive), draining (drain, removal, source), disabled
 * - unhealthy → healthy (passing probes), draining, disabled
 * - ejected → healthy (ejection over, or ended early by probes), unhealthy (failed probes), draining, disabled
 * - draining → healthy (enable), disabled (disable), or back to what it was when its source dropped it
 *   (unhealthy, ejected with what is left, healthy, disabled)
 * - disabled → healthy (enable), draining (drain, removal, source)
 * Never: unhealthy → ejected (passive health counts only healthy targets' failures), disabled → unhealthy
 * or ejected (health does not decide about an operator's target).
 */
export const ALLOWED: Readonly<Record<TargetState, readonly TargetState[]>> = {
  healthy: ['unhealthy', 'ejected', 'draining', 'disabled'],
  unhealthy: ['healthy', 'draining', 'disabled'],
  ejected: ['healthy', 'unhealthy', 'draining', 'disabled'],
  draining: ['healthy', 'unhealthy', 'ejected', 'disabled'],
  disabled: ['healthy', 'draining']
}

export interface ModelSettings {
  passive: { maxFails: number, failWindow: number, ejectTime: number, maxEjectTime: number, maxEjectedPercent: number } | false
  check: { healthyThreshold: number, unhealthyThreshold: number, initialState: 'healthy' | 'unhealthy' } | null
  slowStart: number
  panicPercent: number
  /** The discovery source's `hold` and `maxTargets`. */
  hold: number
  maxTargets: number
}

export interface TargetSpec {
  url: string
  weight: number
  tier: number
  maxConnections: number
  down: boolean
}

/** What a promise of the library (drain, removeTarget, a reload) should have done by now. */
export interface Outcome {
  status: 'pending' | 'resolved' | 'rejected'
  code?: string
  /** Run (as microtasks) when it settles: what the caller chained to it. */
  then?: Array<() => void>
}

interface Timer { at: number, order: number, live: boolean, fire: () => void }
interface IdleWait { resolve: () => void, reject: () => void }
interface Leaving { timer: Timer | undefined }
interface Member { target: ModelTarget, drainedBySource: boolean, leaving: Leaving | undefined, retired: boolean }

export class ModelTarget {
  readonly url: string
  readonly source: string | null
  tier: number
  weight: number
  maxConnections: number
  effectiveWeight: number
  state: TargetState
  since: number
  inflight = 0
  // active checks: results in a row since the last change of state
  passes = 0
  fails = 0
  // passive health: the failures counted since the last ejection (or refusal by the cap), the last maxFails of them
  failTimes: number[] = []
  level = 0
  /** The current ejection came while an earlier one was not yet forgiven (README: "ejected again right after coming back"). */
  repeat = false
  endedAt = 0
  probation = false
  ejectedUntil = 0
  ejection: Timer | undefined = undefined
  /** Set while its source has dropped it: the state it goes back to. */
  retired: { state: TargetState, ejectedUntil: number } | undefined = undefined
  /** Its slow-start ramp; without a timer while it waits for the target to come back (see resumeRamp). */
  ramp: { step: number, startedAt: number, timer: Timer | undefined } | undefined = undefined
  waits: IdleWait[] = []
  /** Its runtime removal (removeTarget), while it runs. */
  removal: Outcome | undefined = undefined

  constructor (spec: TargetSpec, source: string | null, state: TargetState, now: number) {
    this.url = spec.url
    this.source = source
    this.tier = spec.tier
    this.weight = spec.weight
    this.maxConnections = spec.maxConnections
    this.effectiveWeight = spec.weight
    this.state = state
    this.since = now
  }
}

const RAMP_STEPS = 10

export class HealthModel {
  now: number
  readonly settings: ModelSettings
  readonly targets: ModelTarget[] = []
  panicking = false
  /** Observations the library should have made since the last take(). */
  events: Array<{ url: string, from: TargetState, to: TargetState }> = []
  membership: string[] = []
  panicFlips = 0
  /** How often each corner of the rules was reached, so a test can show that it reaches them. */
  readonly reached = new Map<string, number>()
  private readonly statuses: readonly number[]
  private readonly maxLevel: number
  private readonly timers: Timer[] = []
  private order = 0
  private readonly microtasks: Array<() => void> = []
  private readonly members = new Map<string, Member>()
  /** Members in their hold, in the order they left. */
  private readonly held = new Set<Member>()

  constructor (settings: ModelSettings, fixed: readonly TargetSpec[], now: number, statuses: readonly number[]) {
    this.settings = settings
    this.now = now
    this.statuses = statuses
    let level = 0
    if (settings.passive !== false) while (settings.passive.ejectTime * 2 ** level < settings.passive.maxEjectTime) level++
    this.maxLevel = level
    for (const spec of fixed) this.admit(spec, null)
    // The pool reports the panic mode it starts in once, when the app is ready (announceStart).
    this.panicFlips = this.panicking ? 1 : 0
  }

  private reach (corner: string): void {
    this.reached.set(corner, (this.reached.get(corner) ?? 0) + 1)
  }

  target (url: string): ModelTarget | undefined {
    return this.targets.find((target) => target.url === url)
  }

  // ---- pool-wide counts: panic mode and the ejection cap ----

  counts (): { eligible: number, healthy: number, ejected: number, healthyBackups: number } {
    const counts = { eligible: 0, healthy: 0, ejected: 0, healthyBackups: 0 }
    for (const target of this.targets) {
      if (target.state === 'draining' || target.state === 'disabled') continue
      counts.eligible++
      if (target.state === 'ejected') counts.ejected++
      if (target.state === 'healthy') {
        counts.healthy++
        if (target.tier > 0) counts.healthyBackups++
      }
    }
    return counts
  }

  /** The most targets passive health may have ejected at once. */
  ejectionCap (eligible: number): number {
    return this.settings.passive === false ? 0 : Math.max(1, Math.floor(eligible * this.settings.passive.maxEjectedPercent / 100))
  }

  private updatePanic (): void {
    const { eligible, healthy, healthyBackups } = this.counts()
    const percent = this.settings.panicPercent
    const panicking = percent > 0 && eligible > 0 && healthyBackups === 0 && healthy * 100 < percent * eligible
    if (panicking !== this.panicking) {
      if (panicking) this.reach('panic')
      this.panicking = panicking
      this.panicFlips++
    }
  }

  /** The targets a pick may return now: of the first tier that has one that can take a request. */
  pickable (): ModelTarget[] {
    const takes = (target: ModelTarget): boolean =>
      (this.panicking ? target.state !== 'draining' && target.state !== 'disabled' : target.state === 'healthy') &&
      (target.maxConnections === 0 || target.inflight < target.maxConnections)
    const candidates = this.targets.filter(takes)
    if (candidates.length === 0) return []
    const tier = Math.min(...candidates.map((target) => target.tier))
    return candidates.filter((target) => target.tier === tier)
  }

  // ---- timers and microtasks ----

  private setTimer (delay: number, fire: () => void): Timer {
    const timer = { at: this.now + delay, order: this.order++, live: true, fire }
    this.timers.push(timer)
    return timer
  }

  nextTimerAt (): number | undefined {
    let at: number | undefined
    for (const timer of this.timers) if (timer.live && (at === undefined || timer.at < at)) at = timer.at
    return at
  }

  /** Fires, in order, every timer due by `at`. */
  fireDue (at: number): void {
    for (;;) {
      let next: Timer | undefined
      for (const timer of this.timers) {
        if (timer.live && timer.at <= at && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.order < next.order))) next = timer
      }
      if (next === undefined) break
      next.live = false
      this.now = next.at
      next.fire()
    }
    for (let i = this.timers.length - 1; i >= 0; i--) if (!this.timers[i].live) this.timers.splice(i, 1)
    this.now = at
  }

  /** Whether promise callbacks are due (the library's are too, if the model is right). */
  get busy (): boolean {
    return this.microtasks.length > 0
  }

  /** Runs what the library runs in promise callbacks (removals once idle, a drain called off). */
  settle (): void {
    for (let task = this.microtasks.shift(); task !== undefined; task = this.microtasks.shift()) task()
  }

  private settleOutcome (outcome: Outcome, status: 'resolved' | 'rejected', code?: string): void {
    outcome.status = status
    if (code !== undefined) outcome.code = code
    for (const next of outcome.then ?? []) this.microtasks.push(next)
  }

  /** Runs `next` once `outcome` settles (at once, as a microtask, if it has). */
  private after (outcome: Outcome, next: () => void): void {
    if (outcome.status === 'pending') (outcome.then ??= []).push(next)
    else this.microtasks.push(next)
  }

  /** Resolves once `target` has nothing in flight; rejected if it takes traffic again first (IdleWaiters). */
  private idleWait (target: ModelTarget, resolve: () => void, reject: () => void): void {
    if (target.inflight === 0) this.microtasks.push(resolve)
    else target.waits.push({ resolve, reject })
  }

  // ---- membership ----

  private admit (spec: TargetSpec, source: string | null): ModelTarget {
    const state = spec.down ? 'disabled' : this.settings.check?.initialState ?? 'healthy'
    const target = new ModelTarget(spec, source, state, this.now)
    this.targets.push(target)
    this.updatePanic()
    return target
  }

  private addTarget (spec: TargetSpec, source: string | null): ModelTarget {
    const target = this.admit(spec, source)
    if (target.state === 'healthy') this.beginRamp(target)
    this.membership.push(`added ${spec.url}`)
    return target
  }

  private detach (target: ModelTarget): void {
    this.targets.splice(this.targets.indexOf(target), 1)
    this.stopRamp(target)
    if (target.ejection !== undefined) target.ejection.live = false
    this.updatePanic()
    this.membership.push(`removed ${target.url}`)
  }

  // ---- the one writer of state ----

  /** `resumed`: back in its source within hold, to the state it left in. */
  private transition (target: ModelTarget, to: TargetState, resumed = false): void {
    const from = target.state
    if (from === to) return
    target.state = to
    target.since = this.now
    if (from === 'ejected') {
      target.ejectedUntil = 0
      this.ejectionEnded(target, to === 'healthy')
    }
    // "A change of state, by whoever, starts both counts over."
    target.passes = 0
    target.fails = 0
    this.updatePanic()
    if (to === 'healthy' && resumed) this.resumeRamp(target)
    else if (to === 'healthy') this.beginRamp(target)
    else if (from === 'healthy') this.pauseRamp(target)
    if (to === 'healthy') {
      for (const wait of target.waits) this.microtasks.push(wait.reject)
      target.waits = []
    }
    this.events.push({ url: target.url, from, to })
  }

  // ---- passive health ----

  private ejectionEnded (target: ModelTarget, healthy: boolean): void {
    if (target.ejection !== undefined) target.ejection.live = false
    target.ejection = undefined
    target.endedAt = this.now
    if (healthy) target.probation = true
  }

  private trafficFailed (target: ModelTarget): void {
    const passive = this.settings.passive
    if (passive === false || target.state !== 'healthy') return
    let eject = false
    if (target.probation) {
      target.probation = false
      eject = true
      this.reach('failed on probation')
    } else {
      target.failTimes.push(this.now)
      if (target.failTimes.length > passive.maxFails) target.failTimes.shift()
      if (target.failTimes.length === passive.maxFails && this.now - target.failTimes[0] <= passive.failWindow) {
        target.failTimes = []
        eject = true
      }
    }
    const { healthy, ejected, eligible } = this.counts()
    // Never the last healthy target, never beyond the cap.
    if (eject && healthy < 2) this.reach('kept: last healthy')
    else if (eject && ejected >= this.ejectionCap(eligible)) this.reach('kept: cap')
    if (!eject || healthy < 2 || ejected >= this.ejectionCap(eligible)) return
    this.reach(target.level > 0 ? 'ejected again' : 'ejected')
    if (target.endedAt !== 0) target.level = Math.max(0, target.level - Math.floor((this.now - target.endedAt) / passive.ejectTime))
    target.repeat = target.level > 0
    const duration = Math.min(passive.maxEjectTime, passive.ejectTime * 2 ** target.level)
    // Counted to 1 at least, so a repeat is known even when maxEjectTime leaves nothing to double.
    if (target.level < Math.max(1, this.maxLevel)) target.level++
    this.armEjection(target, duration)
    target.ejectedUntil = this.now + duration
    this.transition(target, 'ejected')
  }

  private armEjection (target: ModelTarget, duration: number): void {
    target.ejection = this.setTimer(duration, () => {
      target.ejection = undefined
      this.reach('ejection over')
      this.transition(target, 'healthy')
    })
  }

  // ---- slow start ----

  private beginRamp (target: ModelTarget): void {
    if (this.settings.slowStart === 0) return
    if (target.ramp?.timer !== undefined) throw new Error(`model: ${target.url} began a ramp while one runs`)
    target.ramp = { step: 0, startedAt: this.now, timer: this.rampTimer(target) }
    target.effectiveWeight = rampedWeight(target.weight, 0)
  }

  private rampTimer (target: ModelTarget): Timer {
    return this.setTimer(this.settings.slowStart / RAMP_STEPS, () => {
      const ramp = target.ramp!
      ramp.step++
      if (ramp.step >= RAMP_STEPS) {
        target.ramp = undefined
        target.effectiveWeight = target.weight
      } else {
        target.effectiveWeight = rampedWeight(target.weight, ramp.step)
        ramp.timer = this.rampTimer(target)
      }
    })
  }

  /** Out of service: the ramp waits, at full weight, in case the target resumes. */
  private pauseRamp (target: ModelTarget): void {
    if (target.ramp === undefined) return
    if (target.ramp.timer !== undefined) target.ramp.timer.live = false
    target.ramp.timer = undefined
    target.effectiveWeight = target.weight
  }

  /** Back in its source within hold: the ramp goes on where its age puts it (gone if that is past its end). */
  private resumeRamp (target: ModelTarget): void {
    const ramp = target.ramp
    if (ramp === undefined) return
    const step = Math.floor((this.now - ramp.startedAt) * RAMP_STEPS / this.settings.slowStart)
    this.reach(step >= RAMP_STEPS ? 'ramp over while out' : 'ramp resumed')
    if (step >= RAMP_STEPS) {
      target.ramp = undefined
      return
    }
    ramp.step = step
    ramp.timer = this.rampTimer(target)
    target.effectiveWeight = rampedWeight(target.weight, step)
  }

  private stopRamp (target: ModelTarget): void {
    this.pauseRamp(target)
    target.ramp = undefined
  }

  private setWeight (target: ModelTarget, weight: number): void {
    target.weight = weight
    target.effectiveWeight = target.ramp?.timer === undefined ? weight : rampedWeight(weight, target.ramp.step)
  }

  // ---- inputs: traffic ----

  tryStarted (target: ModelTarget): void {
    target.inflight++
  }

  tryEnded (target: ModelTarget): void {
    target.inflight--
    if (target.inflight !== 0) return
    for (const wait of target.waits) this.microtasks.push(wait.resolve)
    target.waits = []
  }

  tryAnswered (target: ModelTarget, status: number): void {
    if (this.statuses.includes(status)) this.trafficFailed(target)
    else if (this.settings.passive !== false) target.probation = false
  }

  tryFailed (target: ModelTarget): void {
    this.trafficFailed(target)
  }

  // ---- inputs: probes ----

  probed (target: ModelTarget, ok: boolean): void {
    const check = this.settings.check!
    if (ok) {
      target.fails = 0
      target.passes++
      if (target.passes < check.healthyThreshold) return
      // A first ejection ends early on passing probes; a repeated one runs its course.
      if (target.state === 'ejected') this.reach(target.repeat ? 'ejection not ended by probes' : 'ejection ended by probes')
      if (target.state === 'unhealthy' || (target.state === 'ejected' && !target.repeat)) this.transition(target, 'healthy')
    } else {
      target.passes = 0
      target.fails++
      if ((target.state === 'healthy' || target.state === 'ejected') && target.fails >= check.unhealthyThreshold) {
        this.reach(`${target.state} → unhealthy`)
        this.transition(target, 'unhealthy')
      }
    }
  }

  // ---- inputs: runtime management (what app.lolly's calls should do, or the error they should fail with) ----

  private find (url: string): ModelTarget | string {
    const target = this.target(url)
    if (target === undefined || target.removal !== undefined) return 'FST_LOLLY_UNKNOWN_TARGET'
    return target
  }

  apiAddTarget (spec: TargetSpec): string | undefined {
    if (this.target(spec.url) !== undefined) return 'FST_LOLLY_INVALID_OPTION'
    this.addTarget(spec, null)
  }

  apiDrain (url: string): Outcome {
    const target = this.find(url)
    if (typeof target === 'string') return { status: 'rejected', code: target }
    target.retired = undefined
    this.transition(target, 'draining')
    const outcome: Outcome = { status: 'pending' }
    this.idleWait(target, () => this.settleOutcome(outcome, 'resolved'), () => {
      this.reach('drain called off')
      this.settleOutcome(outcome, 'rejected', 'FST_LOLLY_DRAIN_INTERRUPTED')
    })
    return outcome
  }

  apiDisable (url: string): string | undefined {
    const target = this.find(url)
    if (typeof target === 'string') return target
    target.retired = undefined
    this.transition(target, 'disabled')
  }

  apiEnable (url: string): string | undefined {
    const target = this.find(url)
    if (typeof target === 'string') return target
    target.retired = undefined
    if (target.state === 'disabled' || target.state === 'draining') this.transition(target, 'healthy')
  }

  apiSetWeight (url: string, weight: number): string | undefined {
    const target = this.find(url)
    if (typeof target === 'string') return target
    this.setWeight(target, weight)
  }

  /** removeTarget: drains, then the target leaves once idle. */
  apiRemoveTarget (url: string): Outcome {
    const target = this.target(url)
    if (target === undefined) return { status: 'rejected', code: 'FST_LOLLY_UNKNOWN_TARGET' }
    if (target.source !== null) return { status: 'rejected', code: 'FST_LOLLY_DISCOVERED_TARGET' }
    if (target.removal !== undefined) return target.removal
    const removal: Outcome = { status: 'pending' }
    target.removal = removal
    target.retired = undefined
    this.transition(target, 'draining')
    this.idleWait(target, () => {
      this.reach(target.source === null ? 'removed at runtime' : 'removed')
      this.detach(target)
      // Resolved once its connections are closed: a later microtask.
      this.microtasks.push(() => this.settleOutcome(removal, 'resolved'))
    }, () => {
      target.removal = undefined
      this.settleOutcome(removal, 'rejected', 'FST_LOLLY_DRAIN_INTERRUPTED')
    })
    return removal
  }

  /**
   * A reload's target changes (lib/cli/target-changes.ts through app.lolly): each is tried; it
   * resolves once every removal is done, rejects if any change failed.
   */
  apiReload (changes: readonly TargetChange[], done: () => void): Outcome {
    const outcome: Outcome = { status: 'pending', then: [done] }
    // It rejects with the first change that threw, else with the first wait that failed, in order.
    let refused: string | undefined
    const failures: Array<string | undefined> = []
    let waiting = 1
    const settled = (): void => {
      if (--waiting > 0) return
      const code = refused ?? failures.find((code) => code !== undefined)
      this.reach(code === undefined ? 'reload applied' : 'reload failed')
      this.microtasks.push(() => this.settleOutcome(outcome, code === undefined ? 'resolved' : 'rejected', code))
    }
    const spec = (target: { url: string, weight?: number, backup?: boolean, down?: boolean, maxConnections?: number }): TargetSpec =>
      ({ url: target.url, weight: target.weight ?? 1, tier: target.backup === true ? 1 : 0, maxConnections: target.maxConnections ?? 0, down: target.down === true })
    for (const change of changes) {
      let code: string | undefined
      if (change.kind === 'add') code = this.apiAddTarget(spec(change.target))
      else if (change.kind === 'weight') code = this.apiSetWeight(change.url, change.weight)
      else if (change.kind === 'enable') code = this.apiEnable(change.url)
      else if (change.kind === 'disable') code = this.apiDisable(change.url)
      else {
        waiting++
        const at = failures.push(undefined) - 1
        const removal = this.apiRemoveTarget(change.url)
        this.after(removal, () => {
          if (removal.status === 'rejected') failures[at] = removal.code
          else if (change.kind === 'replace') {
            this.reach('reload replaced a target')
            failures[at] = this.apiAddTarget(spec(change.target))
          }
          settled()
        })
      }
      refused ??= code
    }
    settled()
    return outcome
  }

  // ---- inputs: a discovery source's answer (its whole current set) ----

  discovered (answer: ReadonlyArray<{ spec: TargetSpec, draining: boolean }>): void {
    let wanted = answer
    if (answer.length > this.settings.maxTargets) {
      wanted = [...answer].sort((a, b) => a.draining !== b.draining
        ? (a.draining ? 1 : -1)
        : a.spec.tier !== b.spec.tier ? a.spec.tier - b.spec.tier : a.spec.url < b.spec.url ? -1 : 1).slice(0, this.settings.maxTargets)
    }
    for (const entry of wanted) {
      const member = this.members.get(entry.spec.url)
      if (member !== undefined) {
        this.update(member, entry.spec, entry.draining)
      } else if (!entry.draining && this.target(entry.spec.url) === undefined) {
        // A URL the pool holds already stays its first owner's.
        this.members.set(entry.spec.url, { target: this.addTarget(entry.spec, 'provider'), drainedBySource: false, leaving: undefined, retired: false })
      }
    }
    for (const [url, member] of this.members) {
      if (member.leaving === undefined && !wanted.some((entry) => entry.spec.url === url)) this.leave(member)
    }
    // maxTargets counts the targets in their hold too: those that left first end it at once.
    let excess = this.members.size - this.settings.maxTargets
    for (const member of this.held) {
      if (excess-- <= 0) break
      this.reach('hold cut short by maxTargets')
      member.leaving!.timer!.live = false
      this.removeWhenIdle(member, member.leaving!)
    }
  }

  private update (member: Member, spec: TargetSpec, draining: boolean): void {
    const { target } = member
    if (member.leaving !== undefined) {
      if (member.leaving.timer !== undefined) member.leaving.timer.live = false
      member.leaving = undefined
      this.held.delete(member)
    }
    member.drainedBySource = draining
    this.settleMember(member)
    if (target.weight !== spec.weight) this.setWeight(target, spec.weight)
    target.maxConnections = spec.maxConnections
    if (target.tier !== spec.tier) {
      target.tier = spec.tier
      this.updatePanic()
    }
  }

  private leave (member: Member): void {
    const leaving: Leaving = { timer: undefined }
    member.leaving = leaving
    this.settleMember(member)
    leaving.timer = this.setTimer(this.settings.hold, () => this.removeWhenIdle(member, leaving))
    this.held.add(member)
  }

  private settleMember (member: Member): void {
    const retired = member.drainedBySource || member.leaving !== undefined
    if (retired === member.retired) return
    member.retired = retired
    if (retired) this.retire(member.target)
    else this.reinstate(member.target)
  }

  private removeWhenIdle (member: Member, leaving: Leaving): void {
    leaving.timer = undefined
    this.held.delete(member)
    const { target } = member
    // Back in service by an operator during the hold: still out of its source, so it drains again.
    if (target.state !== 'draining') {
      this.reach('back in service when its hold ended')
      this.retire(target)
    }
    this.idleWait(target, () => {
      if (member.leaving !== leaving) return
      this.reach('left its source')
      this.members.delete(target.url)
      this.detach(target)
    }, () => {
      this.reach('enabled while leaving')
      if (member.leaving === leaving) this.removeWhenIdle(member, leaving)
    })
  }

  private retire (target: ModelTarget): void {
    target.retired = { state: target.state, ejectedUntil: target.ejectedUntil }
    this.transition(target, 'draining')
  }

  /** Back within hold: the state it left in (an operator's command since then stands); an ejection resumes for what is left, within the cap. */
  private reinstate (target: ModelTarget): void {
    const before = target.retired
    if (before === undefined) return this.reach('operator\'s state stands over its source\'s')
    target.retired = undefined
    const remaining = before.ejectedUntil - this.now
    // An ejection resumes only within the cap and while another target is healthy, counting it.
    const counts = this.counts()
    const resumable = counts.healthy >= 1 && counts.ejected < this.ejectionCap(counts.eligible + 1)
    this.reach(before.state !== 'ejected' ? `back as ${before.state}` : remaining <= 0 ? 'back after its ejection ran out' : resumable ? 'back ejected for the rest' : 'back healthy: cap')
    if (before.state !== 'ejected') {
      this.transition(target, before.state, true)
    } else if (remaining <= 0 || !resumable) {
      this.transition(target, 'healthy')
      this.ejectionEnded(target, true)
    } else {
      target.ejectedUntil = before.ejectedUntil
      this.transition(target, 'ejected')
      this.armEjection(target, remaining)
    }
  }
}

/** Effective weight at `step` of a slow-start ramp (lib/pool/slow-start.ts's documented ramp: 10 % to 100 % in ten steps). */
function rampedWeight (weight: number, step: number): number {
  return weight * (0.1 + 0.9 * step / RAMP_STEPS)
}
