import type { Target } from '../pool/target.js'

/** What a pick may look at besides the targets: the hash key of the request, when the balancer hashes. */
export interface PickContext {
  /** Hash key, computed once per request by hash balancers (see hash-key.ts). */
  key: string
}

/**
 * A balancer chooses among one tier (primaries or backups) of a pool's *available* targets.
 *
 * - `rebuild` gets the tier's available targets whenever membership, state or effective weight
 *   changes; the balancer may build any structure it likes there (heaps, alias tables, rings).
 * - `pick(ctx, attempt)` must cost O(1) or O(log n) and allocate nothing. Attempt 0 is the normal
 *   choice; when the pool rejects a candidate (at its in-flight cap, already tried by this request,
 *   or told us to wait with Retry-After) it asks again with attempt 1, 2, ... and the balancer must then
 *   offer other targets, covering every target of the tier within `size` attempts where it can.
 * - `onLoadChange` is called when a target's in-flight count changes (load-aware balancers only).
 */
export interface Balancer {
  readonly size: number
  rebuild (targets: readonly Target[]): void
  pick (ctx: PickContext, attempt: number): Target | undefined
  onLoadChange? (target: Target): void
}

/**
 * The fallback every balancer uses for attempts after the first: walk the tier in order from the
 * attempt-0 position, so `size` attempts visit every target exactly once.
 */
export function walkFrom<T> (targets: readonly T[], start: number, attempt: number): T | undefined {
  const n = targets.length
  return n === 0 ? undefined : targets[(start + attempt) % n]
}
