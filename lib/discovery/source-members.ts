import type { FastifyBaseLogger } from 'fastify'
import type { NormalizedTarget } from '../options/types.js'
import type { Target } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

/** One target as a source reports it: `draining` when the instance is terminating. */
export interface DesiredTarget {
  config: NormalizedTarget
  draining: boolean
}

interface Member {
  readonly target: Target
  /** The source reports the instance terminating. */
  drainedBySource: boolean
  /** Set while the target is out of its source's answer: it is removed after `hold`. */
  leaving: { timer: NodeJS.Timeout | undefined } | undefined
  /** Whether it is retired (draining, its state remembered): while drained by its source or leaving. */
  retired: boolean
}

/**
 * The targets one discovery source put in its pool, and the one writer of that membership: each
 * answer (the whole current set) is diffed against them.
 * - A target that stays keeps everything: state, counters, ejection, connections. A new weight, tier
 *   (an SRV priority that moved) or cap applies in place.
 * - A new one enters through the pool as a runtime addition does: born in the pool's initial state,
 *   with slow start when configured.
 * - One that left, or that its source reports terminating, drains at once (no new requests) with the
 *   state it had remembered (TargetHealth#retire). One that left is removed when `hold` has passed and
 *   nothing is in flight; back before that, or ready again, it returns in the state it had, unless an
 *   operator changed it meanwhile.
 * - A URL the pool holds already (a static target, or another source's) stays its first owner's.
 */
export class SourceMembers {
  private readonly pool: UpstreamPool
  private readonly source: { name: string, hold: number, maxTargets: number }
  private readonly log: FastifyBaseLogger
  private readonly members = new Map<string, Member>()
  /** Members in their hold, in the order they left: the first to go when maxTargets needs room. */
  private readonly held = new Set<Member>()
  /** URLs another owner holds, logged once while they stay so. */
  private readonly taken = new Set<string>()
  private capped = false
  private closed = false

  constructor (pool: UpstreamPool, source: { name: string, hold: number, maxTargets: number }, log: FastifyBaseLogger) {
    this.pool = pool
    this.source = source
    this.log = log
  }

  /**
   * Whether answers no longer change anything: discovery stopped, or the pool was closed (its
   * dispatcher is public: `app.lolly.upstreams[name].dispatcher.close()`).
   */
  get stopped (): boolean {
    return this.closed || this.pool.closed
  }

  /** Targets the source lists now (not those leaving). */
  get listed (): number {
    let listed = 0
    for (const member of this.members.values()) if (member.leaving === undefined) listed++
    return listed
  }

  /** Makes the pool's targets of this source follow `desired`, the source's whole current set. */
  apply (desired: readonly DesiredTarget[]): void {
    if (this.stopped) return
    const listed = new Map<string, DesiredTarget>()
    for (const entry of desired) if (!listed.has(entry.config.url)) listed.set(entry.config.url, entry)
    const wanted = this.cap(listed)
    for (const [url, entry] of wanted) {
      const member = this.members.get(url)
      if (member === undefined) this.admit(entry)
      else this.update(member, entry)
    }
    for (const [url, member] of this.members) {
      if (!wanted.has(url) && member.leaving === undefined) this.leave(member)
    }
    for (const url of this.taken) if (!wanted.has(url)) this.taken.delete(url)
    this.trimHeld()
  }

  /** Stops every removal timer: the pool closes every target's connections itself. */
  close (): void {
    this.closed = true
    for (const member of this.members.values()) clearTimeout(member.leaving?.timer)
  }

  /**
   * Keeps `maxTargets` of a larger answer: ready ones before terminating ones, earlier tiers first,
   * then URL order, so every gateway keeps the same ones.
   */
  private cap (listed: Map<string, DesiredTarget>): Map<string, DesiredTarget> {
    const max = this.source.maxTargets
    if (listed.size <= max) {
      if (this.capped) this.log.info({ upstream: this.pool.name, source: this.source.name }, `lolly: ${this.source.name} of upstream ${this.pool.name} answers ${listed.size} targets, within maxTargets (${max}) again`)
      this.capped = false
      return listed
    }
    if (!this.capped) {
      this.log.warn({ upstream: this.pool.name, source: this.source.name, answered: listed.size, maxTargets: max },
        `lolly: ${this.source.name} of upstream ${this.pool.name} answered ${listed.size} targets; keeping the first ${max} (maxTargets)`)
    }
    this.capped = true
    return new Map([...listed].sort(([, a], [, b]) => byPreference(a, b)).slice(0, max))
  }

  private admit (entry: DesiredTarget): void {
    // A terminating instance never seen before: there is nothing to drain.
    if (entry.draining) return
    const url = entry.config.url
    const owner = this.pool.target(url)
    if (owner !== undefined) {
      if (!this.taken.has(url)) {
        this.taken.add(url)
        this.log.warn({ upstream: this.pool.name, source: this.source.name, target: url },
          `lolly: ${this.source.name} of upstream ${this.pool.name} lists ${url}, which ${owner.source === null ? 'the pool holds already (configured or added at runtime)' : `comes from ${owner.source}`}; it stays its first owner's`)
      }
      return
    }
    this.members.set(url, { target: this.pool.addTarget(entry.config), drainedBySource: false, leaving: undefined, retired: false })
  }

  private update (member: Member, entry: DesiredTarget): void {
    const { target } = member
    const config = entry.config
    const name = this.source.name
    const wasLeaving = member.leaving !== undefined
    if (wasLeaving) {
      clearTimeout(member.leaving!.timer)
      member.leaving = undefined
      this.held.delete(member)
    }
    member.drainedBySource = entry.draining
    this.settle(member, entry.draining ? `${name} reports it terminating` : wasLeaving ? `back in ${name}` : `${name} reports it ready again`)
    if (target.weight !== config.weight) this.pool.setWeight(target, config.weight)
    if (target.tier !== config.tier || target.maxConnections !== config.maxConnections) this.pool.retune(target, config.tier, config.maxConnections)
  }

  private leave (member: Member): void {
    const leaving: Member['leaving'] = { timer: undefined }
    member.leaving = leaving
    this.settle(member, `no longer in ${this.source.name}`)
    leaving.timer = setTimeout(() => this.removeWhenIdle(member, leaving), this.source.hold)
    leaving.timer.unref()
    this.held.add(member)
  }

  /**
   * maxTargets bounds what the source holds in the pool, the targets held after they left included
   * (as HAProxy's server-template slots hold its vanished addresses): otherwise a name answering a
   * new set every lookup would pile up maxTargets × hold / interval targets. Those that left first
   * end their hold at once, and go once idle.
   */
  private trimHeld (): void {
    let excess = this.members.size - this.source.maxTargets
    for (const member of this.held) {
      if (excess <= 0) return
      excess--
      clearTimeout(member.leaving!.timer)
      this.removeWhenIdle(member, member.leaving)
    }
  }

  /** Retires the target while it is drained by its source or leaving, reinstates it when neither holds. */
  private settle (member: Member, reason: string): void {
    const retired = member.drainedBySource || member.leaving !== undefined
    if (retired === member.retired) return
    member.retired = retired
    if (retired) this.pool.health.retire(member.target, reason)
    else this.pool.health.reinstate(member.target, reason)
  }

  private removeWhenIdle (member: Member, leaving: Member['leaving']): void {
    leaving!.timer = undefined
    this.held.delete(member)
    const { target } = member
    // An operator put it back in service during the hold: it is still out of its source, so it drains again.
    if (target.state !== 'draining') this.pool.health.retire(target, `no longer in ${this.source.name}`)
    this.pool.idle.wait(target).then(() => {
      if (member.leaving === leaving && !this.stopped) this.remove(member)
    }, () => {
      // Enabled again before it went idle: the same once more.
      if (member.leaving === leaving && !this.stopped) this.removeWhenIdle(member, leaving)
    })
  }

  private remove (member: Member): void {
    const { target } = member
    this.members.delete(target.url)
    this.pool.detachTarget(target)
    // Idle, out of every balancer: closing waits for nothing and cannot fail.
    target.dispatcher.close()
  }
}

function byPreference (a: DesiredTarget, b: DesiredTarget): number {
  if (a.draining !== b.draining) return a.draining ? 1 : -1
  if (a.config.tier !== b.config.tier) return a.config.tier - b.config.tier
  // URLs are distinct: duplicates were dropped before.
  return a.config.url < b.config.url ? -1 : 1
}
