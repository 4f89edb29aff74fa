import type { Target } from '../target.js'
import { walkFrom, type Balancer, type PickContext } from './balancer.js'

/**
 * Smooth weighted round robin in O(log n) per pick: earliest-deadline-first over a binary heap
 * (Envoy's weighted RR), where target i is due every 1/weight_i. nginx's smooth WRR gets the same
 * interleaving (5:1:1 gives A A B A C A A, never a burst) but scans every peer per pick.
 *
 * The first deadline of each target is offset by its position, so light targets do not all fall due
 * in the same instant and cluster; with 5:1:1 the longest run of A is 3.
 */
export class RoundRobinBalancer implements Balancer {
  private targets: Target[] = []
  private deadline = new Float64Array(0)
  private step = new Float64Array(0)
  /** Binary min-heap of tier positions, ordered by (deadline, position). */
  private heap = new Int32Array(0)
  private last = 0

  get size (): number {
    return this.targets.length
  }

  rebuild (targets: readonly Target[]): void {
    const n = targets.length
    this.targets = targets.slice()
    this.deadline = new Float64Array(n)
    this.step = new Float64Array(n)
    this.heap = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const step = 1 / targets[i].effectiveWeight
      this.step[i] = step
      this.deadline[i] = step * (i + 0.5) / n
      this.heap[i] = i
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i)
    this.last = 0
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    if (attempt > 0) return walkFrom(this.targets, this.last, attempt)
    if (this.targets.length === 0) return undefined
    const top = this.heap[0]
    this.deadline[top] += this.step[top]
    this.siftDown(0)
    this.last = top
    return this.targets[top]
  }

  private before (a: number, b: number): boolean {
    const da = this.deadline[a]
    const db = this.deadline[b]
    return da < db || (da === db && a < b)
  }

  private siftDown (i: number): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[i]
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && this.before(heap[child + 1], heap[child])) child++
      if (!this.before(heap[child], item)) break
      heap[i] = heap[child]
      i = child
    }
    heap[i] = item
  }
}
