import { invalid, join, pick, readSection, type Plain, type Section } from './option-reader.js'

/** Kinds of failed tries that move a request on to another target (nginx's proxy_next_upstream). */
export type RetryOn = 'connect-error' | 'reset' | 'timeout' | 'status' | 'target-down'

/** Failover: what happens when a try on one target fails (`retry: { ... }`, or `false` for none). */
export interface RetryOptions {
  /** Extra tries after the first, each on a target not tried yet. Default 2; 0 turns failover off. */
  attempts?: number
  /**
   * Which failures are retried. Default all five:
   * - 'connect-error': no connection could be opened (refused, unreachable, DNS, connect timeout, TLS handshake);
   * - 'reset': the connection broke (reset, closed, malformed answer) before the response headers;
   * - 'timeout': no response headers within `responseTimeout`;
   * - 'status': the target answered with one of `statuses`;
   * - 'target-down': health took the target out (ejected, failed probes) while the try waited for
   *   its answer: the try is cut and the request moves on (HAProxy's `on-marked-down
   *   shutdown-sessions`, for requests that may be sent again only).
   */
  on?: RetryOn[]
  /** Statuses retried when `on` has 'status' (400 to 599). Default [502, 503, 504]. */
  statuses?: number[]
  /**
   * Retry POST, PATCH and other non-idempotent methods even when the target may have received the
   * request. Default false: they are retried only when no connection was opened.
   */
  nonIdempotent?: boolean
  /** When no other target can take the request, try the same one again. Default false. */
  sameTarget?: boolean
  /** No new try starts once this long (ms) has passed since the first began; 0 = no cap. Default 0. */
  timeout?: number
  /**
   * Retries per pool: at most `percent` of its requests over the last 10 s, but `minConcurrency` retries
   * in flight are always allowed (see retry-budget.ts). Default { percent: 20, minConcurrency: 3 }; false = no budget.
   */
  budget?: false | { percent?: number, minConcurrency?: number }
  /** Base delay (ms) before a retry, exponential with full jitter, capped at 10x. Default 0 (none). */
  backoff?: number
  /** Longest a target's `Retry-After` on a 503 keeps it out of the picks, ms; 0 ignores Retry-After. Default 30000. */
  maxRetryAfter?: number
}

export interface RetryBudgetSettings {
  /** Share of the pool's recent requests that may be retried, 0 to 1. */
  ratio: number
  minConcurrency: number
}

export interface NormalizedRetry {
  /** Extra tries; 0 = failover off. */
  attempts: number
  onConnectError: boolean
  onReset: boolean
  onTimeout: boolean
  onTargetDown: boolean
  /** Empty when 'status' is not in `on`. */
  statuses: ReadonlySet<number>
  nonIdempotent: boolean
  sameTarget: boolean
  timeout: number
  budget: RetryBudgetSettings | null
  backoff: number
  maxRetryAfter: number
}

const DEFAULT_STATUSES = [502, 503, 504]

/**
 * Failover defaults, and why:
 *
 * - attempts 2: nginx tries every server of the group, HAProxy `retries 3`, Envoy 1. Two extra tries
 *   get past one dead and one overloaded target; more mostly multiply an outage. A request never goes
 *   to the same target twice, so a pool of n targets gets at most n tries anyway.
 * - all five kinds, 502/503/504: what nginx's proxy_next_upstream counts as "error timeout http_502
 *   http_503 http_504". 500 is the application's answer, not the target's state, so it is not retried.
 * - nonIdempotent false: nginx's default; a POST that reached a target may have had its effect.
 * - timeout 0, as nginx's proxy_next_upstream_timeout: attempts and the per-try timeouts already bound it.
 * - budget 20 % / 3, as Envoy and Finagle: when every target fails, retries add at most a fifth to the
 *   load, and a quiet pool can still retry three requests at a time.
 * - backoff 0: the retry goes to another target, which has no reason to be busier a few ms later (nginx and
 *   HAProxy's redispatch do not wait either); Envoy's 25 ms exists because its retries may hit the same host.
 * - maxRetryAfter 30 s: a target's Retry-After is honoured, but a misconfigured `Retry-After: 86400`
 *   cannot take it out for a day.
 */
export const DEFAULT_RETRY: NormalizedRetry = {
  attempts: 2,
  onConnectError: true,
  onReset: true,
  onTimeout: true,
  onTargetDown: true,
  statuses: new Set(DEFAULT_STATUSES),
  nonIdempotent: false,
  sameTarget: false,
  timeout: 0,
  budget: { ratio: 0.2, minConcurrency: 3 },
  backoff: 0,
  maxRetryAfter: 30_000
}

const RETRY: Section<NormalizedRetry> = {
  // Off keeps the other settings, so that a `true` below (a route's) turns the same policy back on.
  off: (inherited) => ({ ...inherited, attempts: 0 }),
  on: (inherited) => inherited.attempts === 0 ? { ...inherited, attempts: DEFAULT_RETRY.attempts } : inherited,
  read (value, where, base) {
    const on = value.on === undefined ? inheritedOn(base) : new Set(value.on as RetryOn[])
    if (value.statuses !== undefined && !on.has('status')) {
      throw invalid(join(where, 'statuses'), "unset when `on` has no 'status'", value.statuses)
    }
    return {
      attempts: pick(value, 'attempts', base.attempts),
      onConnectError: on.has('connect-error'),
      onReset: on.has('reset'),
      onTimeout: on.has('timeout'),
      onTargetDown: on.has('target-down'),
      statuses: on.has('status') ? readStatuses(value.statuses as number[] | undefined, base.statuses) : new Set<number>(),
      nonIdempotent: pick(value, 'nonIdempotent', base.nonIdempotent),
      sameTarget: pick(value, 'sameTarget', base.sameTarget),
      timeout: pick(value, 'timeout', base.timeout),
      budget: readSection(value, 'budget', where, base.budget, BUDGET),
      backoff: pick(value, 'backoff', base.backoff),
      maxRetryAfter: pick(value, 'maxRetryAfter', base.maxRetryAfter)
    }
  }
}

const BUDGET: Section<RetryBudgetSettings | null, RetryBudgetSettings> = {
  off: () => null,
  on: (inherited) => inherited ?? DEFAULT_RETRY.budget!,
  read: (value, _where, base) => ({
    ratio: pick(value, 'percent', base.ratio * 100) / 100,
    minConcurrency: pick(value, 'minConcurrency', base.minConcurrency)
  })
}

/** Reads `retry` of an upstream or a route over what it inherits (see readSection); `false` is attempts 0. */
export function readRetry (object: Plain, path: string, inherited: NormalizedRetry): NormalizedRetry {
  return readSection(object, 'retry', path, inherited, RETRY)
}

function inheritedOn (inherited: NormalizedRetry): Set<RetryOn> {
  const on = new Set<RetryOn>()
  if (inherited.onConnectError) on.add('connect-error')
  if (inherited.onReset) on.add('reset')
  if (inherited.onTimeout) on.add('timeout')
  if (inherited.onTargetDown) on.add('target-down')
  // An inherited policy without 'status' still has 'status' off; its statuses set is then empty.
  if (inherited.statuses.size > 0) on.add('status')
  return on
}

function readStatuses (value: number[] | undefined, inherited: ReadonlySet<number>): ReadonlySet<number> {
  if (value === undefined) return inherited.size > 0 ? inherited : new Set(DEFAULT_STATUSES)
  return new Set(value)
}
