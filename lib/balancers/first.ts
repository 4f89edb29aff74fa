import type { Target } from '../pool/target.js'
import { walkFrom, type Balancer, type PickContext } from './balancer.js'

/**
 * Active/standby in declared order (HAProxy `balance first`, Caddy `first`): every request goes to
 * the first target that can take it; the next one only gets traffic when the first is out or at its
 * `maxConnections`. The pool passes the tier's available targets in declared order, so attempt k is
 * simply the k-th of them. Weights mean nothing here.
 */
export class FirstBalancer implements Balancer {
  private targets: readonly Target[] = []

  get size (): number {
    return this.targets.length
  }

  rebuild (targets: readonly Target[]): void {
    this.targets = targets.slice()
  }

  pick (_ctx: PickContext, attempt: number): Target | undefined {
    return walkFrom(this.targets, 0, attempt)
  }
}
