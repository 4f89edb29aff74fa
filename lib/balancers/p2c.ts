import type { Target } from '../target.js'
import { AliasTable } from './alias-table.js'
import type { Balancer, PickContext } from './balancer.js'
import { inverseWeights } from './inverse-weights.js'
import { WeightedFailover } from './weighted-failover.js'

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
export class P2cBalancer implements Balancer {
  private targets: readonly Target[] = []
  private readonly table = new AliasTable()
  private readonly failover = new WeightedFailover()
  private inverseWeight = new Float64Array(0)

  get size (): number {
    return this.targets.length
  }

  rebuild (targets: readonly Target[]): void {
    this.targets = targets.slice()
    this.table.rebuild(this.targets)
    this.failover.rebuild(targets.length)
    this.inverseWeight = inverseWeights(this.targets)
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    const n = this.targets.length
    if (n === 0) return undefined
    if (attempt > 0) return this.targets[this.failover.next(this.table)]
    if (n === 1) {
      this.failover.start(0)
      return this.targets[0]
    }
    const a = this.table.draw()
    const b = this.table.drawOther(a)
    const loadA = this.targets[a].inflight * this.inverseWeight[a]
    const loadB = this.targets[b].inflight * this.inverseWeight[b]
    const chosen = loadB < loadA ? b : a
    this.failover.start(chosen)
    return this.targets[chosen]
  }
}
