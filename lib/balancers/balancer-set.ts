import type { FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { BalancerSpec } from '../options/types.js'
import type { Target } from '../pool/target.js'
import type { Balancer, PickContext } from './balancer.js'
import { createBalancer } from './create-balancer.js'
import { hashKeyOf } from './hash-key.js'

// How many candidates one pick examines before it gives up on a tier. Bounds the work per request
// when many targets are at their in-flight cap or were already tried; the balancers' walk covers a
// whole tier of up to this many targets.
const MAX_CANDIDATES = 32
const NO_TARGETS: readonly Target[] = []

/** Rejects a candidate the request must not use (already tried by it, or asked us to back off). */
export interface Exclusion {
  excludes (target: Target): boolean
}

/**
 * One balancing policy over a pool: a balancer per failover tier (primaries, backups, and the further
 * tiers an SRV answer's priorities make). A pool has one set for its own policy and one per distinct
 * policy that routes ask for.
 */
export class BalancerSet {
  readonly spec: BalancerSpec
  /** [0] primaries, [1] backups, then further tiers; never fewer than two. */
  private readonly tiers: Balancer[]
  /** Tiers the last rebuild filled; picks walk only those. */
  private used = 2
  private readonly hashes: boolean
  /** Whether its balancers want onLoadChange: the pool tells only those sets of every request. */
  readonly followsLoad: boolean
  // Reused for every pick: picks are synchronous, so one context per set is enough and allocates nothing.
  private readonly ctx: PickContext = { key: '' }

  constructor (spec: BalancerSpec) {
    this.spec = spec
    this.tiers = [createBalancer(spec), createBalancer(spec)]
    this.hashes = spec.name === 'consistent-hash' || spec.name === 'ip-hash'
    this.followsLoad = this.tiers[0].onLoadChange !== undefined
  }

  /** Rebuilds from the routable targets of each tier, tier 0 first (missing tiers are empty). */
  rebuild (tiers: ReadonlyArray<readonly Target[]>): void {
    while (this.tiers.length < tiers.length) this.tiers.push(createBalancer(this.spec))
    for (let i = 0; i < this.tiers.length; i++) this.tiers[i].rebuild(tiers[i] ?? NO_TARGETS)
    this.used = Math.max(2, tiers.length)
  }

  onLoadChange (target: Target): void {
    const tier = this.tiers[target.tier]
    if (tier?.onLoadChange !== undefined) tier.onLoadChange(target)
  }

  /**
   * The request's hash key ('' unless the set hashes): once per request, not per try, so every try
   * hashes the same key and a hash function of the user's runs once (and, if it throws, before
   * anything was sent).
   */
  keyOf (request: FastifyRequest | undefined, opts: Dispatcher.DispatchOptions): string {
    return this.hashes ? hashKeyOf(this.spec.hashKey, request, opts) : ''
  }

  /** Picks a target that can take the request with hash key `key`: from the first tier that has one. */
  pick (key: string, exclusion: Exclusion | undefined): Target | undefined {
    const ctx = this.ctx
    ctx.key = key
    const tiers = this.tiers
    for (let i = 0; i < this.used; i++) {
      const target = pickFromTier(tiers[i], ctx, exclusion)
      if (target !== undefined) return target
    }
    return undefined
  }
}

function pickFromTier (tier: Balancer, ctx: PickContext, exclusion: Exclusion | undefined): Target | undefined {
  const candidates = Math.min(tier.size, MAX_CANDIDATES)
  for (let attempt = 0; attempt < candidates; attempt++) {
    // Within `size` attempts every balancer offers a target (the Balancer contract).
    const target = tier.pick(ctx, attempt)!
    if (target.canTake() && (exclusion === undefined || !exclusion.excludes(target))) return target
  }
  return undefined
}
