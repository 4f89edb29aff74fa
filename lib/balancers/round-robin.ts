import type { Target } from '../pool/target.js'
import { walkFrom, type Balancer, type PickContext } from './balancer.js'

/**
 * Smooth weighted round robin in O(log n) per pick: earliest-deadline-first over a binary heap
 * (Envoy's weighted RR), where target i is due every 1/weight_i. nginx's smooth WRR gets the same
 * interleaving (5:1:1 gives A A B A C A A, never a burst) but scans every peer per pick.
 *
 * The first deadline of each target is offset by its position, so light targets do not all fall due
 * in the same instant and cluster; with 5:1:1 the longest run of A is 3.
 *
 * The heap keeps each slot's deadline beside it (`key[slot]`, `pos[slot]`) rather than indexing a
 * per-target array: a comparison then reads adjacent memory, which is what keeps a pick at 10000
 * targets within 2x of one at 100.
 */
export class RoundRobinBalancer implements Balancer {
  private targets: Target[] = []
  private step = new Float64Array(0)
  private key = new Float64Array(0)
  private pos = new Int32Array(0)
  private last = 0

  get size (): number {
    return this.targets.length
  }

  rebuild (targets: readonly Target[]): void {
    const n = targets.length
    this.targets = targets.slice()
    this.step = new Float64Array(n)
    this.key = new Float64Array(n)
    this.pos = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const step = 1 / targets[i].effectiveWeight
      this.step[i] = step
      this.key[i] = step * (i + 0.5) / n
      this.pos[i] = i
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.reseat(i, this.key[i], this.pos[i])
    this.last = 0
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    if (attempt > 0) return walkFrom(this.targets, this.last, attempt)
    if (this.targets.length === 0) return undefined
    const top = this.pos[0]
    this.reseat(0, this.key[0] + this.step[top], top)
    this.last = top
    return this.targets[top]
  }

  /**
   * Places (key, pos) in the subtree rooted at `top`, Floyd's way: sink the hole to a leaf along the
   * earlier child (one comparison per level), then lift the item, no higher than `top`. For the root
   * after its deadline moved forward (every pick) the item belongs near the bottom, so the lift is
   * short; the same routine heapifies at rebuild.
   */
  private reseat (top: number, key: number, pos: number): void {
    const keys = this.key
    const poss = this.pos
    const n = keys.length
    let i = top
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && (keys[child + 1] < keys[child] || (keys[child + 1] === keys[child] && poss[child + 1] < poss[child]))) child++
      keys[i] = keys[child]
      poss[i] = poss[child]
      i = child
    }
    while (i > top) {
      const parent = (i - 1) >> 1
      if (keys[parent] < key || (keys[parent] === key && poss[parent] < pos)) break
      keys[i] = keys[parent]
      poss[i] = poss[parent]
      i = parent
    }
    keys[i] = key
    poss[i] = pos
  }
}
