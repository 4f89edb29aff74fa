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

/** Rejects a candidate the request must not use (already tried by it, or asked us to back off). */
export interface Exclusion {
  excludes (target: Target): boolean
}

/**
 * One balancing policy over a pool: a balancer for the primary tier and one for the backups. A pool
 * has one set for its own policy and one per distinct policy that routes ask for.
 */
export class BalancerSet {
  readonly spec: BalancerSpec
  readonly primary: Balancer
  readonly backup: Balancer
  private readonly hashes: boolean
  /** Whether its balancers want onLoadChange: the pool tells only those sets of every request. */
  readonly followsLoad: boolean
  // Reused for every pick: picks are synchronous, so one context per set is enough and allocates nothing.
  private readonly ctx: PickContext = { key: '' }

  constructor (spec: BalancerSpec) {
    this.spec = spec
    this.primary = createBalancer(spec)
    this.backup = createBalancer(spec)
    this.hashes = spec.name === 'consistent-hash' || spec.name === 'ip-hash'
    this.followsLoad = this.primary.onLoadChange !== undefined
  }

  rebuild (primaries: readonly Target[], backups: readonly Target[]): void {
    this.primary.rebuild(primaries)
    this.backup.rebuild(backups)
  }

  onLoadChange (target: Target): void {
    const tier = target.backup ? this.backup : this.primary
    if (tier.onLoadChange !== undefined) tier.onLoadChange(target)
  }

  /**
   * The request's hash key ('' unless the set hashes): once per request, not per try, so every try
   * hashes the same key and a hash function of the user's runs once (and, if it throws, before
   * anything was sent).
   */
  keyOf (request: FastifyRequest | undefined, opts: Dispatcher.DispatchOptions): string {
    return this.hashes ? hashKeyOf(this.spec.hashKey, request, opts) : ''
  }

  /** Picks a target that can take the request with hash key `key`: a primary if any can, else a backup. */
  pick (key: string, exclusion: Exclusion | undefined): Target | undefined {
    const ctx = this.ctx
    ctx.key = key
    return pickFromTier(this.primary, ctx, exclusion) ?? pickFromTier(this.backup, ctx, exclusion)
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
