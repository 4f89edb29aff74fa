import type { Target } from '../target.js'
import { AliasTable } from './alias-table.js'
import type { Balancer, PickContext } from './balancer.js'
import { WeightedFailover } from './weighted-failover.js'

/**
 * Weighted random: each pick draws a target with probability proportional to its effective weight,
 * in O(1) through an alias table (nginx `random`, Caddy's default, Envoy's RANDOM). Picks are
 * independent, so it needs no shared state between requests and no coordination between processes.
 */
export class RandomBalancer implements Balancer {
  private targets: readonly Target[] = []
  private readonly table = new AliasTable()
  private readonly failover = new WeightedFailover()

  get size (): number {
    return this.targets.length
  }

  rebuild (targets: readonly Target[]): void {
    this.targets = targets.slice()
    this.table.rebuild(this.targets)
    this.failover.rebuild(targets.length)
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    if (this.targets.length === 0) return undefined
    if (attempt > 0) return this.targets[this.failover.next(this.table)]
    const position = this.table.draw()
    this.failover.start(position)
    return this.targets[position]
  }
}
