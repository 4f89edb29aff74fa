import type { Target } from '../pool/target.js'

/**
 * Finds a target's position in a balancer's tier in O(1), for `onLoadChange`.
 *
 * The pool calls `onLoadChange` for every in-flight change of any of its targets, including ones
 * that are not (or no longer) in this tier, e.g. a draining target finishing its last requests;
 * those answer -1. Lookup is by `Target#index` (the target's position in its pool) into a dense
 * array instead of a Map, so it costs one array read and no hashing.
 */
export class TierPositions {
  private targets: readonly Target[] = []
  private positions = new Int32Array(0)

  rebuild (targets: readonly Target[]): void {
    let highest = -1
    for (const target of targets) highest = Math.max(highest, target.index)
    const positions = new Int32Array(highest + 1).fill(-1)
    for (let i = 0; i < targets.length; i++) positions[targets[i].index] = i
    this.positions = positions
    this.targets = targets
  }

  /** The target's position in the tier, or -1 when it is not in it. */
  of (target: Target): number {
    const index = target.index
    const position = index < this.positions.length ? this.positions[index] : -1
    // The identity check keeps a target of another pool (same index) from posing as one of ours.
    return position >= 0 && this.targets[position] === target ? position : -1
  }
}
