import { inverseWeights } from './inverse-weights.js'
import { TwoChoiceBalancer } from './weighted-draw.js'

/**
 * Power of two random choices (Envoy's least request, nginx `random two least_conn`, HAProxy
 * `random(2)`): draw two distinct targets by weight, send to the one with fewer requests in flight
 * relative to its weight. O(1) per pick, and nearly as good as scanning every target for the least
 * loaded, without herding every process onto the same "least loaded" target.
 *
 * The comparison is `inflight / effectiveWeight` (without +1): when both are idle it is a tie, and a
 * tie goes to the first draw, itself weighted, so at low load traffic follows the weights exactly;
 * under load a target holds in-flight requests in proportion to its weight, which is what a weight
 * (a capacity) means.
 */
export class P2cBalancer extends TwoChoiceBalancer {
  private inverseWeight = new Float64Array(0)

  protected override rebuilt (): void {
    this.inverseWeight = inverseWeights(this.targets)
  }

  protected prefersSecond (a: number, b: number): boolean {
    return this.targets[b].inflight * this.inverseWeight[b] < this.targets[a].inflight * this.inverseWeight[a]
  }
}
