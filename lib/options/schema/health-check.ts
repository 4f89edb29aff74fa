import { HEADER_VALUE } from '../../http/header-names.js'
import { choice, duration, integer, number, object, patterned, section } from './leaves.js'

// `healthCheck`: active probes of every target.

// Visible ASCII only: no space, CR or LF can reach the request line; '#' is never sent, so refuse it.
const PROBE_PATH = /^\/[!-"$-~]*$/
const MAX_BODY_BYTES = 16 * 1024 * 1024
// Probing a target more often than every 10 ms is a typo, not a policy.
const MIN_INTERVAL = 10

const STATUS_ENTRY = "a status from 100 to 599, a range 'from-to' or a class '2xx'"

const expectStatus = {
  type: 'array',
  minItems: 1,
  lollyExpect: "a non-empty array of statuses (200), ranges ('200-399') or classes ('2xx')",
  description: "Statuses that pass: numbers, ranges ('200-399') or classes ('2xx'). Default ['2xx'].",
  items: {
    lollyExpect: STATUS_ENTRY,
    if: { type: 'string' },
    then: { type: 'string', pattern: '^(?:\\d{3}(?:-\\d{3})?|[1-5][xX][xX])$' },
    else: { type: 'integer', minimum: 100, maximum: 599 }
  }
} as const

export const healthCheckSchema = section({
  path: patterned(PROBE_PATH, "a path starting with '/' (visible ASCII, no '#')", { description: 'Path (and query) probed on the target\'s origin.', default: '/health' }),
  method: choice(['GET', 'HEAD'] as const, { default: 'GET' }),
  headers: {
    type: 'object',
    lollyPlain: true,
    lollyExpect: 'an object of header names to string values',
    description: 'Extra request headers. Host defaults to the target\'s host, User-Agent to fastify-lolly-health/<version>.',
    additionalProperties: { type: 'string', pattern: HEADER_VALUE.source, lollyExpect: 'a string without CR, LF or NUL' }
  },
  port: integer(1, 65_535, { description: 'Probe this port instead of the one traffic goes to.' }),
  expect: object({
    status: expectStatus,
    body: {
      lollyExpect: 'a non-empty string or a RegExp',
      description: 'A substring of the first maxBodyBytes of the body (a RegExp too, in the plugin options). Default: body not checked.',
      anyOf: [{ type: 'string', minLength: 1 }, { lollyKind: 'regexp' }]
    }
  }, 'an object { status, body }', { description: 'What a probe answer must look like to count as a pass.' }),
  maxBodyBytes: integer(1, MAX_BODY_BYTES, { description: 'Most bytes of a probe\'s body read (and matched against expect.body).', default: 65_536 }),
  interval: duration({ description: 'Time between probes of a target that is up, ms.', default: 10_000 }, MIN_INTERVAL),
  timeout: duration({ description: 'A probe that has not finished after this long fails, ms. Default 5000 (or half the shorter interval); must be below the intervals.', default: 5000 }),
  unhealthyInterval: duration({ description: 'Time between probes of an unhealthy target, ms. Default: interval.' }, MIN_INTERVAL),
  jitter: number(0, 1, { description: 'Randomness of each wait, as a fraction of it.', default: 0.1 }),
  concurrency: integer(1, 1024, { description: 'Most probes in flight at once for the upstream.', default: 16 }),
  healthyThreshold: integer(1, 1000, { description: 'Consecutive passes that bring an unhealthy target back.', default: 2 }),
  unhealthyThreshold: integer(1, 1000, { description: 'Consecutive failures that take a healthy target out.', default: 3 }),
  initialState: choice(['healthy', 'unhealthy'] as const, { description: "'unhealthy': no traffic to a target until it has passed healthyThreshold probes.", default: 'healthy' })
}, { description: 'Active health checks: probe every target periodically. Off unless set; true for all defaults.' })
