import type { Target } from '../pool/target.js'
import { AliasTable } from './alias-table.js'
import type { Balancer, PickContext } from './balancer.js'
import { WeightedFailover } from './weighted-failover.js'

/**
 * What the balancers that draw targets by weight share: an alias table over the tier's effective
 * weights (O(1) draws), and the failover order for attempts after the first (weighted redraws, then a
 * walk; see weighted-failover.ts). A subclass only says which tier position attempt 0 goes to.
 */
export abstract class WeightedDrawBalancer implements Balancer {
  protected targets: readonly Target[] = []
  protected readonly table = new AliasTable()
  private readonly failover = new WeightedFailover()

  get size (): number {
    return this.targets.length
  }

  rebuild (targets: readonly Target[]): void {
    this.targets = targets.slice()
    this.table.rebuild(this.targets)
    this.failover.rebuild(targets.length)
    this.rebuilt()
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    if (this.targets.length === 0) return undefined
    if (attempt > 0) return this.targets[this.failover.next(this.table)]
    const chosen = this.choose()
    this.failover.start(chosen)
    return this.targets[chosen]
  }

  /** Tier position of the first-attempt pick; the tier is not empty. */
  protected abstract choose (): number

  /** Rebuild whatever else the subclass derives from the tier. */
  protected rebuilt (): void {}
}

/**
 * Two random choices: draw two distinct targets by weight and keep the better by the subclass's
 * measure. O(1), and nearly as good as scanning every target, without herding every process onto
 * the same "best" one.
 */
export abstract class TwoChoiceBalancer extends WeightedDrawBalancer {
  protected choose (): number {
    if (this.targets.length === 1) return 0
    const a = this.table.draw()
    const b = this.table.drawOther(a)
    return this.prefersSecond(a, b) ? b : a
  }

  /** Whether the second draw `b` beats the first `a`; ties should keep `a` (itself a weighted draw). */
  protected abstract prefersSecond (a: number, b: number): boolean
}
