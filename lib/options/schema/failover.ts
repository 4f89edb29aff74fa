import { boolean, choice, duration, integer, number, section } from './leaves.js'

// `retry` (failover to another target) and `passive` (ejection on real traffic's failures).

const RETRY_ON = ['connect-error', 'reset', 'timeout', 'status', 'target-down'] as const
const quoted = RETRY_ON.map((kind) => `'${kind}'`).join(', ')

export const retrySchema = section({
  attempts: integer(0, 100, { description: 'Extra tries after the first, each on a target not tried yet; 0 turns failover off.', default: 2 }),
  on: {
    type: 'array',
    minItems: 1,
    items: choice(RETRY_ON),
    lollyExpect: `a non-empty array of ${quoted} (attempts: 0 or retry: false turns failover off)`,
    description: 'Which failures are retried. Default all five.'
  },
  statuses: {
    type: 'array',
    minItems: 1,
    items: integer(400, 599, {}, 'a status from 400 to 599'),
    lollyExpect: 'a non-empty array of statuses from 400 to 599',
    description: "Statuses retried when `on` has 'status'. Default [502, 503, 504].",
    default: [502, 503, 504]
  },
  nonIdempotent: boolean({ description: 'Retry POST, PATCH and other non-idempotent methods even when the target may have received the request.', default: false }),
  sameTarget: boolean({ description: 'When no other target can take the request, try the same one again.', default: false }),
  timeout: duration({ description: 'No new try starts once this long (ms) has passed since the first began; 0 = no cap.', default: 0 }, 0),
  budget: section({
    percent: number(0, 100, { description: 'Share (percent) of the pool\'s requests over the last 10 s that may be retried.', default: 20 }),
    minConcurrency: integer(0, 1_000_000, { description: 'Retries in flight always allowed.', default: 3 })
  }, { description: 'Retries per pool; false = no budget.' }),
  backoff: duration({ description: 'Base delay (ms) before a retry, exponential with full jitter, capped at 10x.', default: 0 }, 0),
  maxRetryAfter: duration({ description: 'Longest a target\'s Retry-After on a 503 keeps it out of the picks, ms; 0 ignores Retry-After.', default: 30_000 }, 0)
}, { description: 'Failover of a failed request to another target. On by default (2 extra tries); false turns it off.' })

export const passiveSchema = section({
  maxFails: integer(1, 1000, { description: 'Failures within failWindow that eject a target.', default: 5 }),
  failWindow: duration({ description: 'Sliding window (ms) in which maxFails failures must fall.', default: 10_000 }),
  ejectTime: duration({ description: 'First ejection (ms); each consecutive one doubles it up to maxEjectTime.', default: 30_000 }),
  maxEjectTime: duration({ description: 'Longest ejection, ms.', default: 300_000 }),
  maxEjectedPercent: number(1, 100, { description: 'Most of a pool\'s targets (percent) passive health may eject at once.', default: 50 }),
  statuses: {
    type: 'array',
    // Only 5xx statuses may count against a target. A 4xx is the client's doing (a missing page, a bad
    // token): counting it would let any client eject every target by asking for URLs that do not exist,
    // which is why nginx never counts 403/404 and Envoy's outlier detection only sees 5xx. An empty list
    // counts connection errors, resets and timeouts only.
    items: integer(500, 599, {}, 'a 5xx status (500 to 599; 4xx are the client\'s doing and never count)'),
    lollyExpect: 'an array of 5xx statuses',
    description: 'Response statuses that count as failures: 5xx only.',
    default: [502, 503, 504]
  }
}, { description: 'Passive health: failures of real traffic eject a target for a while. On by default; false turns it off.' })
