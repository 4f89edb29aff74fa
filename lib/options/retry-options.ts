import { invalid, join, readBoolean, readDuration, readInteger, readNumber, readSection, type Plain, type Section } from './option-reader.js'
import { readStatusList, statusesOf, type StatusListSpec } from './status-list.js'

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

const RETRY_KEYS = ['attempts', 'on', 'statuses', 'nonIdempotent', 'sameTarget', 'timeout', 'budget', 'backoff', 'maxRetryAfter']
const BUDGET_KEYS = ['percent', 'minConcurrency']
const RETRY_ON: readonly RetryOn[] = ['connect-error', 'reset', 'timeout', 'status', 'target-down']
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
  keys: RETRY_KEYS,
  // Off keeps the other settings, so that a `true` below (a route's) turns the same policy back on.
  off: (inherited) => ({ ...inherited, attempts: 0 }),
  on: (inherited) => inherited.attempts === 0 ? { ...inherited, attempts: DEFAULT_RETRY.attempts } : inherited,
  read (value, where, base) {
    const on = readOn(value.on, join(where, 'on'), base)
    if (value.statuses !== undefined && !on.has('status')) {
      throw invalid(join(where, 'statuses'), "unset when `on` has no 'status'", value.statuses)
    }
    return {
      attempts: readInteger(value, 'attempts', where, base.attempts, { min: 0, max: 100 }),
      onConnectError: on.has('connect-error'),
      onReset: on.has('reset'),
      onTimeout: on.has('timeout'),
      onTargetDown: on.has('target-down'),
      statuses: on.has('status') ? readStatuses(value.statuses, join(where, 'statuses'), base.statuses) : new Set<number>(),
      nonIdempotent: readBoolean(value, 'nonIdempotent', where, base.nonIdempotent),
      sameTarget: readBoolean(value, 'sameTarget', where, base.sameTarget),
      timeout: readDuration(value, 'timeout', where, base.timeout, 0),
      budget: readSection(value, 'budget', where, base.budget, BUDGET),
      backoff: readDuration(value, 'backoff', where, base.backoff, 0),
      maxRetryAfter: readDuration(value, 'maxRetryAfter', where, base.maxRetryAfter, 0)
    }
  }
}

const BUDGET: Section<RetryBudgetSettings | null, RetryBudgetSettings> = {
  keys: BUDGET_KEYS,
  off: () => null,
  on: (inherited) => inherited ?? DEFAULT_RETRY.budget!,
  read: (value, where, base) => ({
    ratio: readNumber(value, 'percent', where, base.ratio * 100, 0, 100) / 100,
    minConcurrency: readInteger(value, 'minConcurrency', where, base.minConcurrency, { min: 0, max: 1_000_000 })
  })
}

const STATUSES: StatusListSpec = {
  min: 400,
  max: 599,
  ranges: false,
  empty: false,
  list: 'a non-empty array of statuses from 400 to 599',
  entry: 'a status from 400 to 599'
}

/** Reads `retry` of an upstream or a route over what it inherits (see readSection); `false` is attempts 0. */
export function readRetry (object: Plain, path: string, inherited: NormalizedRetry): NormalizedRetry {
  return readSection(object, 'retry', path, inherited, RETRY)
}

function readOn (value: unknown, path: string, inherited: NormalizedRetry): Set<RetryOn> {
  if (value === undefined) {
    const on = new Set<RetryOn>()
    if (inherited.onConnectError) on.add('connect-error')
    if (inherited.onReset) on.add('reset')
    if (inherited.onTimeout) on.add('timeout')
    if (inherited.onTargetDown) on.add('target-down')
    // An inherited policy without 'status' still has 'status' off; its statuses set is then empty.
    if (inherited.statuses.size > 0) on.add('status')
    return on
  }
  const expectation = `a non-empty array of ${RETRY_ON.map((kind) => `'${kind}'`).join(', ')} (attempts: 0 or retry: false turns failover off)`
  if (!Array.isArray(value) || value.length === 0) throw invalid(path, expectation, value)
  for (let i = 0; i < value.length; i++) {
    if (!(RETRY_ON as readonly unknown[]).includes(value[i])) throw invalid(`${path}[${i}]`, `one of ${RETRY_ON.map((kind) => `'${kind}'`).join(', ')}`, value[i])
  }
  return new Set(value as RetryOn[])
}

function readStatuses (value: unknown, path: string, inherited: ReadonlySet<number>): ReadonlySet<number> {
  if (value === undefined) return inherited.size > 0 ? inherited : new Set(DEFAULT_STATUSES)
  return new Set(statusesOf(readStatusList(value, path, STATUSES)))
}
