import type { RetryBudgetSettings } from '../options/retry-options.js'

// Length of the sliding window over which retries are weighed against requests (Finagle's default TTL).
const WINDOW_MS = 10_000

/**
 * One pool's retry budget: retries may be at most `percent` of the pool's requests over the last ten
 * seconds (Finagle's and gRPC's retry budgets), and `minConcurrency` retries may always be in flight
 * at once (Envoy's floor), so a quiet pool can still fail over.
 *
 * Why a share of requests over time rather than Envoy's share of requests in flight: when one of three
 * targets dies, a third of the requests in flight fail in the same instant, more than any sensible
 * in-flight share, and those clients would see errors although two healthy targets are there. Over a
 * window, a busy pool has earned those retries; when every target fails, retries still add at most
 * `percent` to the load (plus the floor), which is what the budget is for.
 *
 * O(1) and timer-free: two fixed windows (current and previous), the previous one weighted by how much
 * of it is still inside the last ten seconds; the clock is the caller's (monotonic, ms).
 */
export class RetryBudget {
  /** Retries decided or in flight right now. */
  active = 0
  private windowStart = 0
  private requests = 0
  private retries = 0
  private previousRequests = 0
  private previousRetries = 0

  /** A request's first try is starting. */
  recordRequest (now: number): void {
    this.rotate(now)
    this.requests++
  }

  /** Takes a slot for one retry if the budget allows it. */
  tryAcquire (settings: RetryBudgetSettings | null, now: number): boolean {
    if (settings !== null && this.active >= settings.minConcurrency) {
      this.rotate(now)
      const previousShare = 1 - (now - this.windowStart) / WINDOW_MS
      const requests = this.requests + this.previousRequests * previousShare
      const retries = this.retries + this.previousRetries * previousShare
      if (retries + 1 > requests * settings.ratio) return false
    }
    this.active++
    this.retries++
    return true
  }

  /** The retry's try ended (or the retry was not made after all). */
  release (): void {
    this.active--
  }

  private rotate (now: number): void {
    const elapsed = now - this.windowStart
    if (elapsed < WINDOW_MS) return
    // One window later the current one becomes the previous; more than that and both are stale.
    const adjacent = elapsed < 2 * WINDOW_MS
    this.previousRequests = adjacent ? this.requests : 0
    this.previousRetries = adjacent ? this.retries : 0
    this.requests = 0
    this.retries = 0
    this.windowStart = adjacent ? this.windowStart + WINDOW_MS : now
  }
}
