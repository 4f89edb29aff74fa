import type { Target } from '../pool/target.js'
import type { Balancer, PickContext } from './balancer.js'
import { HashRing } from './hash-ring.js'
import { hashString } from './string-hash.js'
import { TierPositions } from './tier-positions.js'

// Ring points a walk looks at for a target it has not offered yet, before it falls back to the tier
// order (which finds one within `attempt` steps). Only lopsided weights ever need the fallback.
const RING_WALK_LIMIT = 64
// Ring points the bounded-load walk looks at for a target under its bound before it settles for
// the least loaded one it saw. With a factor of 1.25 the expected walk is a few points.
const LOAD_WALK_LIMIT = 256

/**
 * Consistent hashing (ketama ring, see hash-ring.ts) of `ctx.key`, with bounded loads (Google's
 * "consistent hashing with bounded loads", HAProxy's `hash-balance-factor`, Envoy's
 * `hash_balance_factor`): with factor c > 0 a target whose in-flight count would exceed
 * `ceil(c * (tier in-flight + 1) * weight / tier weight)` with this request is passed over for the
 * next distinct target on the ring, so a hot key spills to its ring neighbours instead of melting one
 * target, and comes back when the load evens out. c = 0 turns the bound off (pure affinity).
 * The ring follows configured weights, the bound effective ones: a target in slow start keeps its
 * keys, and its lower bound spills the load it cannot take yet to its ring neighbours.
 *
 * Attempt k > 0 offers the k-th distinct target after the key's point, clockwise: every key has its
 * own stable failover order, and one target's failure spreads its keys over the others.
 */
export class ConsistentHashBalancer implements Balancer {
  private targets: readonly Target[] = []
  private readonly ring = new HashRing()
  private readonly positions = new TierPositions()
  private readonly factor: number
  /** factor * weight / tier weight, per position: its share of the bound. */
  private boundShare = new Float64Array(0)
  /** Sum of the tier's in-flight counts, kept current by onLoadChange. */
  private tierInflight = 0
  /** In-flight count of each position as last added into tierInflight. */
  private counted = new Float64Array(0)
  // The walk of the current request: attempts 0, 1, 2 ... arrive one after another for one key.
  /** offered[position] === walk: the walk already offered that target. */
  private offered = new Uint32Array(0)
  private walk = 0
  private walkKey = ''
  private walkAttempt = -1
  private cursor = 0
  private origin = 0

  constructor (hashBalanceFactor: number) {
    this.factor = hashBalanceFactor
  }

  get size (): number {
    return this.targets.length
  }

  rebuild (targets: readonly Target[]): void {
    const n = targets.length
    this.targets = targets.slice()
    this.positions.rebuild(this.targets)
    this.ring.rebuild(this.targets)
    let weight = 0
    for (const target of targets) weight += target.effectiveWeight > 0 ? target.effectiveWeight : 0
    this.boundShare = new Float64Array(n)
    this.counted = new Float64Array(n)
    this.tierInflight = 0
    for (let i = 0; i < n; i++) {
      const own = targets[i].effectiveWeight > 0 ? targets[i].effectiveWeight : 0
      this.boundShare[i] = weight > 0 ? this.factor * own / weight : this.factor / n
      this.counted[i] = targets[i].inflight
      this.tierInflight += targets[i].inflight
    }
    this.offered = new Uint32Array(n)
    this.walk = 0
    this.walkAttempt = -1
  }

  onLoadChange (target: Target): void {
    const position = this.positions.of(target)
    if (position < 0) return
    this.tierInflight += target.inflight - this.counted[position]
    this.counted[position] = target.inflight
  }

  pick (ctx: PickContext, attempt: number): Target | undefined {
    const n = this.targets.length
    if (n === 0) return undefined
    const wanted = attempt % n
    let position: number
    if (wanted === this.walkAttempt + 1 && wanted > 0 && ctx.key === this.walkKey) {
      position = this.nextDistinct(wanted)
    } else {
      // A new request, or attempts out of sequence: replay the walk for this key up to `wanted`.
      position = this.startWalk(ctx.key)
      for (let k = 1; k <= wanted; k++) position = this.nextDistinct(k)
    }
    this.walkAttempt = wanted
    return this.targets[position]
  }

  /** Attempt 0: the key's owner, or with bounded loads the first target on from it that is under its bound. */
  private startWalk (key: string): number {
    if (++this.walk === 0xffffffff) {
      this.offered.fill(0)
      this.walk = 1
    }
    this.walkKey = key
    const ring = this.ring
    let point = ring.find(hashString(key))
    let chosen = ring.owners[point]
    if (this.factor > 0 && this.targets.length > 1) {
      let leastLoad = Infinity
      let leastPoint = point
      for (let step = 0; step < LOAD_WALK_LIMIT; step++) {
        const owner = ring.owners[point]
        const inflight = this.targets[owner].inflight
        const bound = Math.ceil(this.boundShare[owner] * (this.tierInflight + 1))
        if (inflight < bound) {
          leastPoint = point
          break
        }
        const load = (inflight + 1) / bound
        if (load < leastLoad) {
          leastLoad = load
          leastPoint = point
        }
        point = ring.next(point)
      }
      point = leastPoint
      chosen = ring.owners[point]
    }
    this.cursor = point
    this.origin = chosen
    this.offered[chosen] = this.walk
    return chosen
  }

  /** The next target clockwise that this walk has not offered yet. */
  private nextDistinct (attempt: number): number {
    const ring = this.ring
    let point = this.cursor
    for (let step = 0; step < RING_WALK_LIMIT; step++) {
      point = ring.next(point)
      const owner = ring.owners[point]
      if (this.offered[owner] !== this.walk) {
        this.cursor = point
        this.offered[owner] = this.walk
        return owner
      }
    }
    // Lopsided weights can hide a light target behind long runs of heavy points: take the tier
    // order from the first offer. At most `attempt` targets were offered, so this ends within
    // attempt + 1 steps, and the order is still fixed per key.
    const n = this.targets.length
    let owner = this.origin
    for (let step = 0; step <= attempt; step++) {
      owner = owner + 1 === n ? 0 : owner + 1
      if (this.offered[owner] !== this.walk) break
    }
    this.offered[owner] = this.walk
    return owner
  }
}
