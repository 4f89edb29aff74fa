import { WeightedDrawBalancer } from './weighted-draw.js'

/**
 * Weighted random: each pick draws a target with probability proportional to its effective weight,
 * in O(1) through an alias table (nginx `random`, Caddy's default, Envoy's RANDOM). Picks are
 * independent, so it needs no shared state between requests and no coordination between processes.
 */
export class RandomBalancer extends WeightedDrawBalancer {
  protected choose (): number {
    return this.table.draw()
  }
}
