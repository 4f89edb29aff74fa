import { boolean, choice, duration, integer, kind, nonEmptyString, object, patterned } from './leaves.js'

// Targets: a URL, a target object, or an entry that discovers targets (dns, srv, discover). An
// entry is told apart by its key (if/then), so an error describes the kind of entry it was aiming at.

/**
 * The one weight limit, for options, runtime calls and reloads alike. A million is far past any real
 * ratio, and keeps the balancers' arithmetic (sums of weights, 1 / weight) exact.
 */
export const MAX_WEIGHT = 1_000_000
// RFC 2782's service name: `_service._proto.name`.
const SRV_NAME = /^_[A-Za-z0-9-]{1,63}\._(?:tcp|udp|tls|sctp)\.(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/
const BASE_PATH = /^(?=\/)(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*\/?$/

const url = { type: 'string', lollyExpect: 'a URL string', description: 'An http: or https: origin with an optional base path (no credentials, query or fragment).', examples: ['http://10.0.0.1:3000', 'https://api.internal/v1'] } as const
const weight = integer(1, MAX_WEIGHT, { description: 'Share of the traffic relative to the other targets. Default 1.', default: 1 })
const backup = boolean({ description: 'Used only when no primary target is available. Default false.', default: false })
const maxConnections = integer(0, Number.MAX_SAFE_INTEGER, { description: 'Most requests in flight to this target; 0 = no limit. Default 0.', default: 0 })
const template = { weight, backup, maxConnections }
const shared = {
  maxTargets: integer(1, 100_000, { description: 'Most targets this entry may add. Default 1000.', default: 1000 }),
  hold: duration({ description: 'How long a target the source stops listing stays (ms). Default 10000.', default: 10_000 }, 0)
}

// Shown on the status page, in logs and events: printable text (no control characters) of a sane length.
const name = patterned(/^\P{Cc}{1,100}$/u, 'a name of 1 to 100 printable characters', { description: 'What the status page, snapshots, events and logs call the target. Unique among the targets listed in its upstream.', examples: ['api-1'] })

const TARGET_EXPECT = 'a URL string or an object with a url'

/** One target: its URL, or an object with its URL and settings. */
export const targetSchema = {
  type: ['string', 'object'],
  lollyPlain: true,
  lollyExpect: TARGET_EXPECT,
  properties: {
    url,
    name,
    weight,
    backup,
    down: boolean({ description: 'Out of the balancing until set up again (a planned maintenance). Default false.', default: false }),
    maxConnections
  },
  required: ['url'],
  additionalProperties: false
} as const

/** A target a provider's discover() yields: no `down` (a source says `state: 'draining'`; disabling is the operator's). */
export const discoveredTargetSchema = {
  ...targetSchema,
  properties: { url, name, weight, backup, maxConnections, state: choice(['ready', 'draining'] as const) }
} as const

export const dnsEntry = {
  ...object({
    dns: { ...url, description: 'A URL whose host name is looked up (A/AAAA): one target per address.' },
    ...template,
    family: { enum: [4, 6, 'both'], lollyExpect: "4, 6 or 'both'", description: "Address family looked up. Default 'both'.", default: 'both' },
    ...shared
  }),
  required: ['dns']
} as const

export const srvEntry = {
  ...object({
    srv: patterned(SRV_NAME, 'an SRV name like _http._tcp.api.service.consul', { description: 'An SRV name: one target per record (port and weight from the record).' }),
    protocol: choice(['http', 'https'] as const, { default: 'http' }),
    basePath: patterned(BASE_PATH, 'a path starting with /', { default: '/' }),
    ...template,
    family: dnsEntry.properties.family,
    ...shared
  }),
  required: ['srv']
} as const

export const providerEntry = {
  ...object({
    discover: kind('function', 'a function ({ signal }) => AsyncIterable of target lists'),
    name: nonEmptyString({ description: 'Names the source in logs and the status page. Default discover, discover#2, ...' }),
    ...shared
  }),
  required: ['discover']
} as const

function keyed (key: string) {
  return { type: 'object', required: [key] } as const
}

/** An entry of a `targets` list. */
export const targetEntrySchema = {
  if: keyed('discover'),
  then: providerEntry,
  else: { if: keyed('dns'), then: dnsEntry, else: { if: keyed('srv'), then: srvEntry, else: targetSchema } }
} as const

export const targetsSchema = {
  type: 'array',
  minItems: 1,
  items: targetEntrySchema,
  lollyExpect: 'a non-empty array of targets',
  description: 'The targets: URLs, target objects, and `dns`, `srv` or `discover` entries that find them.'
} as const
