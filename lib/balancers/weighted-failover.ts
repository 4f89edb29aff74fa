import type { AliasTable } from './alias-table.js'

// Weighted draws an attempt makes for a target not offered yet before it scans the tier. Only a
// pick whose offered targets hold most of the weight gets past them: with 3/7 of it, 3% of picks.
const DRAWS = 4

/**
 * The order in which a randomized balancer (random, p2c, least-latency) offers more targets after
 * the pool rejected its first choice (at maxConnections, already tried, Retry-After).
 *
 * Walking the tier in order from the first choice (`walkFrom`) would send all of a full target's
 * overflow to its neighbour in the list, which then fills up and overflows into the next one. Like
 * nginx's `random`, each further attempt draws again by weight instead, so the overflow spreads in
 * proportion to weight. When the draws keep hitting targets already offered in this pick, it takes
 * the first target not offered yet in tier order from a random position (at most `attempt` are
 * offered, so that takes at most `attempt + 1` steps). Every attempt offers a new target, so `size`
 * attempts cover the tier.
 */
export class WeightedFailover {
  /** offered[position] === walk: offered since this pick's attempt 0. */
  private offered = new Uint32Array(0)
  private walk = 1

  rebuild (size: number): void {
    this.offered = new Uint32Array(size)
    this.walk = 1
  }

  /** Attempt 0 offered `position`. */
  start (position: number): void {
    if (++this.walk === 0xffffffff) {
      this.offered.fill(0)
      this.walk = 1
    }
    this.offered[position] = this.walk
  }

  /** A position to offer at attempt 1, 2, ... of the current pick. */
  next (table: AliasTable): number {
    const offered = this.offered
    for (let i = 0; i < DRAWS; i++) {
      const drawn = table.draw()
      if (offered[drawn] !== this.walk) {
        offered[drawn] = this.walk
        return drawn
      }
    }
    const n = offered.length
    let position = Math.floor(Math.random() * n)
    for (let step = 1; step < n && offered[position] === this.walk; step++) position = position + 1 === n ? 0 : position + 1
    offered[position] = this.walk
    return position
  }
}
