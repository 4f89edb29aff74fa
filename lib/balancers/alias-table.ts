import type { Target } from '../pool/target.js'

// Tries at drawing a second candidate different from the first before settling for a uniform draw
// among the others. Rejection gives exactly the weighted distribution without the first; the uniform
// fallback only runs when the first holds nearly all the weight (probability p^8).
const DISTINCT_TRIES = 8

/**
 * Weighted random choice in O(1) per draw: Walker's alias method, built with Vose's algorithm.
 *
 * Each of the n slots holds a probability and an alias; a draw picks a slot uniformly and keeps it
 * with its probability, else takes its alias. One Math.random() serves both steps: the integer part
 * of `random * n` picks the slot, the fraction is the coin.
 */
export class AliasTable {
  private probability = new Float64Array(0)
  private alias = new Int32Array(0)

  get size (): number {
    return this.alias.length
  }

  /**
   * Builds the table from the targets' effective weights (lowered by slow start). A weight that is
   * not a positive number counts as 0; if no target has weight, all are equally likely.
   */
  rebuild (targets: readonly Target[]): void {
    const n = targets.length
    const probability = new Float64Array(n)
    const alias = new Int32Array(n)
    let total = 0
    for (let i = 0; i < n; i++) {
      const weight = targets[i].effectiveWeight
      probability[i] = weight > 0 && Number.isFinite(weight) ? weight : 0
      total += probability[i]
    }
    const small = new Int32Array(n)
    const large = new Int32Array(n)
    let smalls = 0
    let larges = 0
    for (let i = 0; i < n; i++) {
      // Scaled so that the average slot holds exactly 1.
      probability[i] = total > 0 ? probability[i] * n / total : 1
      alias[i] = i
      if (probability[i] < 1) small[smalls++] = i
      else large[larges++] = i
    }
    while (smalls > 0 && larges > 0) {
      const less = small[--smalls]
      const more = large[--larges]
      alias[less] = more
      probability[more] = probability[more] + probability[less] - 1
      if (probability[more] < 1) small[smalls++] = more
      else large[larges++] = more
    }
    // What is left is 1 up to rounding error: those slots always keep themselves.
    while (larges > 0) probability[large[--larges]] = 1
    while (smalls > 0) probability[small[--smalls]] = 1
    this.probability = probability
    this.alias = alias
  }

  /** A position drawn with probability proportional to its weight. The table must not be empty. */
  draw (): number {
    const scaled = Math.random() * this.alias.length
    const slot = Math.floor(scaled)
    return scaled - slot < this.probability[slot] ? slot : this.alias[slot]
  }

  /** A position other than `first`, drawn by weight among the rest. Needs at least two positions. */
  drawOther (first: number): number {
    const n = this.alias.length
    if (n === 2) return 1 - first
    for (let i = 0; i < DISTINCT_TRIES; i++) {
      const other = this.draw()
      if (other !== first) return other
    }
    return (first + 1 + Math.floor(Math.random() * (n - 1))) % n
  }
}
