import type { Target } from '../pool/target.js'
import { walkFrom, type Balancer, type PickContext } from './balancer.js'
import { inverseWeights } from './inverse-weights.js'
import { TierPositions } from './tier-positions.js'

/**
 * Least connections, weighted: the target with the fewest requests in flight relative to its weight,
 * scored `inflight / effectiveWeight` (nginx least_conn compares the same ratio).
 *
 * Why not `(inflight + 1) / weight` (HAProxy's leastconn): with it, whenever the tier is idle the
 * heaviest target scores lowest and takes every request, so sequential traffic ignores weights
 * entirely. With `inflight / weight` idle targets tie, and ties go to weighted round robin: each target
 * carries a virtual deadline that advances by 1 / weight when it is picked (earliest deadline first,
 * like round-robin.ts), so a 2:1 pair gets A A B at idle, not always the first target, and under load
 * each target holds in-flight requests in proportion to its weight. A target whose deadline fell
 * behind (it was busier than its peers for a while) wins one tie and is then put back in step, so
 * it never gets a burst of catch-up picks.
 *
 * An indexed binary min-heap, ordered by (score, deadline, position), keeps the best target on top:
 * a pick reads the top and re-sinks it (O(log n)), `onLoadChange` moves one entry up or down (O(log n)),
 * so no pick scans the tier. Each heap slot keeps its entry's score and deadline beside it rather
 * than indexing per-target arrays (as round-robin.ts does): a comparison reads the two children's
 * adjacent memory instead of chasing two positions into two arrays, which at 10000 targets is most
 * of a pick's cost.
 *
 * A target at its maxConnections scores Infinity: it sinks below every target that can take a
 * request, so the top stays usable and the pool does not have to reject it on every pick (and send
 * its overflow to whichever target follows it in the list).
 */
export class LeastConnectionsBalancer implements Balancer {
  private targets: readonly Target[] = []
  private readonly positions = new TierPositions()
  /** 1 / effective weight, by tier position. */
  private inverseWeight = new Float64Array(0)
  // The heap, by slot: each entry's score, its deadline (the virtual time at which it is next due
  // among equally loaded targets) and its tier position; slotOf[position] = slot.
  private score = new Float64Array(0)
  private due = new Float64Array(0)
  private pos = new Int32Array(0)
  private slotOf = new Int32Array(0)
  /** Virtual time of the last pick: deadlines never start further back than this. */
  private clock = 0
  private last = 0

  get size (): number {
    return this.targets.length
  }

  /**
   * Targets that stay in the tier keep their deadlines, so the pool's frequent rebuilds (every state
   * change, every slow-start step) do not restart the rotation of ties from the first target.
   */
  rebuild (targets: readonly Target[]): void {
    const n = targets.length
    const inverseWeight = inverseWeights(targets)
    const score = new Float64Array(n)
    const due = new Float64Array(n)
    const pos = new Int32Array(n)
    const slotOf = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const before = this.positions.of(targets[i])
      due[i] = before >= 0 ? this.due[this.slotOf[before]] : this.clock + inverseWeight[i]
      score[i] = scoreOf(targets[i], inverseWeight[i])
      pos[i] = i
      slotOf[i] = i
    }
    this.targets = targets.slice()
    this.positions.rebuild(this.targets)
    this.inverseWeight = inverseWeight
    this.score = score
    this.due = due
    this.pos = pos
    this.slotOf = slotOf
    this.last = 0
    for (let slot = (n >> 1) - 1; slot >= 0; slot--) this.siftDown(slot, score[slot], due[slot], pos[slot])
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    if (attempt > 0) return walkFrom(this.targets, this.last, attempt)
    if (this.targets.length === 0) return undefined
    const best = this.pos[0]
    this.last = best
    // Advancing the deadline moves the target behind its equals; its score rises when the pool
    // counts the request in flight (onLoadChange).
    const start = Math.max(this.due[0], this.clock)
    this.clock = start
    this.sinkFromTop(this.score[0], start + this.inverseWeight[best], best)
    return this.targets[best]
  }

  onLoadChange (target: Target): void {
    const position = this.positions.of(target)
    if (position < 0) return
    const slot = this.slotOf[position]
    const before = this.score[slot]
    const after = scoreOf(target, this.inverseWeight[position])
    if (after === before) return
    if (after > before) this.siftDown(slot, after, this.due[slot], position)
    else this.siftUp(slot, after, this.due[slot], position)
  }

  /** Whether the entry at `slot` ranks before (score, due, pos). */
  private slotBefore (slot: number, score: number, due: number, pos: number): boolean {
    const slotScore = this.score[slot]
    if (slotScore !== score) return slotScore < score
    const slotDue = this.due[slot]
    return slotDue !== due ? slotDue < due : this.pos[slot] < pos
  }

  /** The better of a slot's children (the first child when there is only one). */
  private betterChild (child: number, n: number): number {
    return child + 1 < n && this.slotBefore(child + 1, this.score[child], this.due[child], this.pos[child]) ? child + 1 : child
  }

  /** Copies the entry at `from` into `to` (whose entry has moved or is being replaced). */
  private move (from: number, to: number): void {
    const pos = this.pos[from]
    this.score[to] = this.score[from]
    this.due[to] = this.due[from]
    this.pos[to] = pos
    this.slotOf[pos] = to
  }

  private put (slot: number, score: number, due: number, pos: number): void {
    this.score[slot] = score
    this.due[slot] = due
    this.pos[slot] = pos
    this.slotOf[pos] = slot
  }

  /** Places (score, due, pos) at `slot` or above it. */
  private siftUp (slot: number, score: number, due: number, pos: number): void {
    while (slot > 0) {
      const parent = (slot - 1) >> 1
      if (this.slotBefore(parent, score, due, pos)) break
      this.move(parent, slot)
      slot = parent
    }
    this.put(slot, score, due, pos)
  }

  /** Places (score, due, pos) at `slot` or below it. */
  private siftDown (slot: number, score: number, due: number, pos: number): void {
    const n = this.pos.length
    for (;;) {
      const first = 2 * slot + 1
      if (first >= n) break
      const child = this.betterChild(first, n)
      if (!this.slotBefore(child, score, due, pos)) break
      this.move(child, slot)
      slot = child
    }
    this.put(slot, score, due, pos)
  }

  /**
   * Re-places the top after its deadline moved past its equals, where it usually ends in a leaf:
   * Floyd's bottom-up sift moves the hole down to a leaf along the better child (one comparison per
   * level instead of two), then lets the entry climb back the few levels it may need.
   */
  private sinkFromTop (score: number, due: number, pos: number): void {
    const n = this.pos.length
    let slot = 0
    for (;;) {
      const first = 2 * slot + 1
      if (first >= n) break
      const child = this.betterChild(first, n)
      this.move(child, slot)
      slot = child
    }
    this.siftUp(slot, score, due, pos)
  }
}

function scoreOf (target: Target, inverseWeight: number): number {
  const full = target.maxConnections > 0 && target.inflight >= target.maxConnections
  return full ? Infinity : target.inflight * inverseWeight
}
