import { TOKEN } from '../../http/header-names.js'
import { ref } from './definitions.js'
import { boolean, choice, duration, integer, number } from './leaves.js'

// What configures a pool (an upstream's settings; at the top level every upstream's defaults), and
// the part of it a route may set over its upstream's.

export const BALANCER_NAMES = [
  'round-robin', 'random', 'least-connections', 'p2c', 'least-latency', 'consistent-hash', 'ip-hash', 'first'
] as const
const HASH_KEY = new RegExp(`^(?:ip|url|(?:header|cookie):${TOKEN.source.slice(1, -1)})$`)

const balancing = {
  balancer: choice(BALANCER_NAMES, { description: 'How a target is picked.', default: 'round-robin' }),
  hashKey: {
    lollyExpect: "'ip', 'url', 'header:NAME', 'cookie:NAME' or a function",
    description: "What consistent-hash hashes: 'ip', 'url', 'header:NAME', 'cookie:NAME' (or a function, in the plugin options).",
    default: 'ip',
    anyOf: [{ type: 'string', pattern: HASH_KEY.source }, { lollyKind: 'function' }]
  },
  hashBalanceFactor: {
    ...number(0, 100, { description: 'Bounded-load factor for consistent hashing; 0 turns it off.', default: 1.25 }),
    // Below 1 a target would take less than its share before spilling: a mistake, not a policy.
    // if/then: ajv applies `not` before `type`, and Infinity is to fail as out of range.
    if: { type: 'number' },
    then: { not: { exclusiveMinimum: 0, exclusiveMaximum: 1 } },
    lollyExpect: { default: 'a number from 0 to 100', not: '0 (off) or a number >= 1' }
  }
} as const

const timeouts = {
  responseTimeout: duration({ description: 'Time from sending the request to the response headers, ms.', default: 30_000 }),
  bodyTimeout: duration({ description: 'Longest pause between two chunks of the response body, ms.', default: 30_000 }),
  clientBodyTimeout: duration({ description: 'Longest pause in a request body streamed from the client, ms; 0 turns it off.', default: 60_000 }, 0)
}

/** Keys that configure a pool; at the top level (with `upstreams`) they are every pool's defaults. */
export const upstreamSettingsProperties = {
  ...balancing,
  tlsRejectUnauthorized: boolean({ description: 'Verify upstream TLS certificates.', default: true }),
  connections: integer(1, 65_536, { description: 'Connections kept per target.', default: 128 }),
  pipelining: integer(1, 128, { description: 'HTTP/1.1 pipelining depth per connection.', default: 1 }),
  connectTimeout: duration({ description: 'Time to open a connection (TCP and TLS), ms.', default: 2000 }),
  ...timeouts,
  passive: ref('passive'),
  slowStart: duration({ description: 'Ramp-up window (ms) of a target that comes back: its weight goes from 10 % to 100 %. 0 = off.', default: 0 }, 0),
  panicPercent: number(0, 100, { description: 'Below this percentage of available targets, balance over all of them (panic mode). 0 = off.', default: 0 }),
  healthCheck: ref('healthCheck'),
  retry: ref('retry'),
  resolver: ref('resolver'),
  websocket: ref('websocket'),
  affinity: ref('affinity')
} as const

/** What a route may set over its upstream's settings: in a plugin route's `config.upstream` and in a `lolly` file's route alike. */
export const routeSettingsProperties = {
  ...balancing,
  retry: ref('retry'),
  ...timeouts,
  websocket: boolean({ description: 'Whether WebSocket upgrades are tunnelled on the route. Default: the upstream\'s.' }),
  affinity: ref('affinity')
} as const

export const ROUTE_SETTING_KEYS = Object.keys(routeSettingsProperties) as Array<keyof typeof routeSettingsProperties>
