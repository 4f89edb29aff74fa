import type { RetryBudgetSettings, RetryOn } from '../options/retry-options.js'
import { failureKind, type TryFailure } from './failover-policy.js'
import type { RetryBudget } from './retry-budget.js'

/**
 * The retry one request has decided on: the slot it holds in its pool's retry budget, the target it
 * goes to next, and the backoff before it starts. A request holds at most one slot, from the moment
 * a retry is planned until the request ends; a retry that fails again passes its slot on.
 */
export class RetryPlan<T> {
  private readonly budget: RetryBudget
  private readonly settings: RetryBudgetSettings | null
  private holdsSlot = false
  private next: T | undefined = undefined
  private delay = 0
  private timer: NodeJS.Timeout | undefined = undefined
  private failure: RetryOn | undefined = undefined

  constructor (budget: RetryBudget, settings: RetryBudgetSettings | null) {
    this.budget = budget
    this.settings = settings
  }

  /** Why the last retry planned moves on (the kind of failure it follows); undefined before the first. */
  get reason (): RetryOn | undefined {
    return this.failure
  }

  /**
   * Plans a retry of `failure` to `next` after `delay` ms if there is a target and the budget allows
   * one more now; false, holding nothing, if not. A retry of a request that never reached a target
   * (no connection was opened) takes no slot: it adds no load anywhere, and counting it refused GETs
   * when a host vanished at low traffic (its first four requests timed out connecting in the same
   * instant; the budget's floor of three let the fourth fail with a 504).
   */
  take (next: T | undefined, delay: number, now: number, failure: TryFailure): boolean {
    this.releaseSlot()
    if (next === undefined) return false
    if ('status' in failure || failure.connected) {
      if (!this.budget.tryAcquire(this.settings, now)) return false
      this.holdsSlot = true
    }
    this.next = next
    this.delay = delay
    this.failure = failureKind(failure)
    return true
  }

  /** Calls `start` with the planned target, after the backoff if there is one. */
  run (start: (next: T) => void): void {
    const next = this.next as T
    this.next = undefined
    if (this.delay === 0) {
      start(next)
      return
    }
    this.timer = setTimeout(() => {
      this.timer = undefined
      start(next)
    }, this.delay)
  }

  /** The request ended: its slot goes back and a backoff still running is called off. */
  end (): void {
    this.next = undefined
    clearTimeout(this.timer)
    this.timer = undefined
    this.releaseSlot()
  }

  private releaseSlot (): void {
    if (this.holdsSlot) {
      this.holdsSlot = false
      this.budget.release()
    }
  }
}
