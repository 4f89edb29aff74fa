import { BalancerSet } from '../balancers/balancer-set.js'
import type { BalancerSpec } from '../options/types.js'
import { inService, type PoolFields, type Target } from './target.js'

/**
 * A pool's balancer sets: one for its own policy and one per distinct policy routes ask for, each
 * rebuilt lazily. Any number of changes between two picks (state changes, weights, slow-start steps,
 * membership) mark the sets stale, and the next pick rebuilds them once. A rebuild is where a target's
 * `routable` is decided: healthy, or in panic mode anything but disabled or draining.
 */
export class BalancerSets {
  private readonly sets: BalancerSet[] = []
  private readonly byKey = new Map<string, BalancerSet>()
  /** The sets whose balancers follow in-flight counts (least-connections, bounded-load hashing): the only ones told of each request. */
  private loadSets: BalancerSet[] = []
  private stale = true
  private first = 0

  /** The set for a policy, shared by every route that asks for the same one (a hash function is never shared). */
  get (spec: BalancerSpec): BalancerSet {
    const key = spec.hashKey.kind === 'function' ? undefined : `${spec.name}|${JSON.stringify(spec.hashKey)}|${spec.hashBalanceFactor}`
    let set = key === undefined ? undefined : this.byKey.get(key)
    if (set === undefined) {
      set = new BalancerSet(spec)
      this.sets.push(set)
      if (set.followsLoad) this.loadSets = [...this.loadSets, set]
      if (key !== undefined) this.byKey.set(key, set)
      this.stale = true
    }
    return set
  }

  /** The first tier with a target in the balancers, as of the last refresh (0 when none has any). */
  get firstTier (): number {
    return this.first
  }

  /** Something the balancers hold changed: rebuild before the next pick. */
  invalidate (): void {
    this.stale = true
  }

  /** Rebuilds every set if anything changed since the last pick. */
  refresh (targets: readonly Target[], panicking: boolean): void {
    if (!this.stale) return
    this.stale = false
    const tiers: Target[][] = [[], []]
    for (const target of targets) {
      const routable = panicking ? inService(target) : target.state === 'healthy'
      ;(target as PoolFields).routable = routable
      if (!routable) continue
      while (tiers.length <= target.tier) tiers.push([])
      tiers[target.tier].push(target)
    }
    this.first = Math.max(0, tiers.findIndex((tier) => tier.length > 0))
    for (const set of this.sets) set.rebuild(tiers)
  }

  /** A target's in-flight count changed. */
  loadChanged (target: Target): void {
    const sets = this.loadSets
    for (let i = 0; i < sets.length; i++) sets[i].onLoadChange(target)
  }
}
