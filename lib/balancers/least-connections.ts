import type { Target } from '../target.js'
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
 * so no pick scans the tier.
 *
 * A target at its maxConnections scores Infinity: it sinks below every target that can take a
 * request, so the top stays usable and the pool does not have to reject it on every pick (and send
 * its overflow to whichever target follows it in the list).
 */
export class LeastConnectionsBalancer implements Balancer {
  private targets: readonly Target[] = []
  private readonly positions = new TierPositions()
  private inverseWeight = new Float64Array(0)
  private score = new Float64Array(0)
  /** Virtual time at which each position is next due among equally loaded targets. */
  private deadline = new Float64Array(0)
  /** heap[slot] = tier position; slotOf[position] = slot. */
  private heap = new Int32Array(0)
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
    const deadline = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const before = this.positions.of(targets[i])
      deadline[i] = before >= 0 ? this.deadline[before] : this.clock + inverseWeight[i]
    }
    this.targets = targets.slice()
    this.positions.rebuild(this.targets)
    this.inverseWeight = inverseWeight
    this.deadline = deadline
    this.score = new Float64Array(n)
    this.heap = new Int32Array(n)
    this.slotOf = new Int32Array(n)
    this.last = 0
    for (let i = 0; i < n; i++) {
      this.score[i] = scoreOf(targets[i], inverseWeight[i])
      this.heap[i] = i
      this.slotOf[i] = i
    }
    for (let slot = (n >> 1) - 1; slot >= 0; slot--) this.siftDown(slot)
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    if (attempt > 0) return walkFrom(this.targets, this.last, attempt)
    if (this.targets.length === 0) return undefined
    const best = this.heap[0]
    this.last = best
    // Advancing the deadline moves the target behind its equals; its score rises when the pool
    // counts the request in flight (onLoadChange).
    const start = Math.max(this.deadline[best], this.clock)
    this.clock = start
    this.deadline[best] = start + this.inverseWeight[best]
    this.sinkFromTop()
    return this.targets[best]
  }

  onLoadChange (target: Target): void {
    const position = this.positions.of(target)
    if (position < 0) return
    const before = this.score[position]
    const after = scoreOf(target, this.inverseWeight[position])
    if (after === before) return
    this.score[position] = after
    const slot = this.slotOf[position]
    if (after > before) this.siftDown(slot)
    else this.siftUp(slot)
  }

  /** Whether position a ranks before position b: lower score, then earlier deadline, then declared earlier. */
  private before (a: number, b: number): boolean {
    const scoreA = this.score[a]
    const scoreB = this.score[b]
    if (scoreA !== scoreB) return scoreA < scoreB
    const dueA = this.deadline[a]
    const dueB = this.deadline[b]
    return dueA !== dueB ? dueA < dueB : a < b
  }

  private siftUp (slot: number): void {
    const heap = this.heap
    const item = heap[slot]
    while (slot > 0) {
      const parent = (slot - 1) >> 1
      if (!this.before(item, heap[parent])) break
      heap[slot] = heap[parent]
      this.slotOf[heap[slot]] = slot
      slot = parent
    }
    heap[slot] = item
    this.slotOf[item] = slot
  }

  /**
   * Re-sinks the top after its deadline moved past its equals, where it usually ends in a leaf:
   * Floyd's bottom-up sift moves the hole down to a leaf along the better child (one comparison per
   * level instead of two), then lets the entry climb back the few levels it may need.
   */
  private sinkFromTop (): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[0]
    let slot = 0
    for (;;) {
      let child = 2 * slot + 1
      if (child >= n) break
      if (child + 1 < n && this.before(heap[child + 1], heap[child])) child++
      heap[slot] = heap[child]
      this.slotOf[heap[slot]] = slot
      slot = child
    }
    heap[slot] = item
    this.siftUp(slot)
  }

  private siftDown (slot: number): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[slot]
    for (;;) {
      let child = 2 * slot + 1
      if (child >= n) break
      if (child + 1 < n && this.before(heap[child + 1], heap[child])) child++
      if (!this.before(heap[child], item)) break
      heap[slot] = heap[child]
      this.slotOf[heap[slot]] = slot
      slot = child
    }
    heap[slot] = item
    this.slotOf[item] = slot
  }
}

function scoreOf (target: Target, inverseWeight: number): number {
  const full = target.maxConnections > 0 && target.inflight >= target.maxConnections
  return full ? Infinity : target.inflight * inverseWeight
}
