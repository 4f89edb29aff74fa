import { boolean, duration, integer, kind, object, patterned, section } from './leaves.js'

// The smaller sections: websocket, resolver, metrics, status and tracing.

export const websocketSchema = section({
  handshakeTimeout: duration({ description: 'Longest wait for a target\'s answer to the handshake, ms; then the next target is tried.', default: 10_000 }),
  idleTimeout: duration({ description: 'An open tunnel with no byte either way for this long is closed, ms; 0 = never.', default: 3_600_000 }, 0),
  maxTunnels: integer(1, 1_000_000, { description: 'Tunnels open (or opening) at once in the pool; one more is refused with 503.', default: 10_000 }),
  drainTimeout: duration({ description: 'How long the tunnels of a draining or disabled target stay open, ms.', default: 30_000 }, 0),
  halfCloseTimeout: duration({ description: 'Once one side ended its half of the connection, how long the other has to end its own, ms; 0 = never.', default: 10_000 }, 0)
}, { description: 'Tunnel WebSocket upgrades to a balanced target. Off unless set; true for all defaults.' })

export const resolverSchema = object({
  servers: {
    type: 'array',
    minItems: 1,
    // An address, not a name (the resolver cannot resolve its own servers' names): the reader checks it.
    items: { type: 'string', lollyExpect: 'an IP address with an optional port (10.0.0.2, 10.0.0.2:5353, [fd00::2]:53)' },
    lollyExpect: 'a non-empty array of DNS server addresses',
    description: 'DNS servers to ask instead of the system\'s.'
  },
  timeout: duration({ description: 'Timeout of one DNS query, ms.', default: 2000 }),
  tries: integer(1, 10, { description: 'Tries per server.', default: 2 }),
  minInterval: duration({ description: 'Shortest time between two lookups of a name, ms (a TTL of 0 is raised to it).', default: 1000 }),
  maxInterval: duration({ description: 'Longest time between two lookups of a name, ms (a long TTL is cut to it).', default: 30_000 }),
  emptyGrace: duration({ description: 'How long an empty or failed answer is ridden out before the targets go, ms.', default: 30_000 }, 0)
}, 'an object', { description: 'How dns and srv targets are looked up, and how often.' })

const METRIC_PREFIX = /^(?:[A-Za-z_:][A-Za-z0-9_:]*)?$/

export const metricsSchema = section({
  registry: kind('registry', 'a prom-client Registry', { description: 'The prom-client registry to add the metrics to. Default: prom-client\'s global one.' }),
  prefix: patterned(METRIC_PREFIX, 'a Prometheus metric name prefix (letters, digits, _ and :, not starting with a digit)', { default: 'lolly_' }),
  buckets: {
    type: 'array',
    minItems: 1,
    maxItems: 50,
    // Ascending is the reader's check: a schema cannot compare an entry with the one before it.
    items: { type: 'number', exclusiveMinimum: 0, lollyExpect: 'a positive number of seconds, above the bucket before it' },
    lollyExpect: 'an array of 1 to 50 ascending positive numbers (seconds)',
    description: 'Upper bounds (seconds) of the request duration histogram\'s buckets, ascending.'
  }
}, { description: 'Prometheus metrics through prom-client. Off unless set.' })

// Written into the page's script and its Content-Security-Policy, so it stays plain: segments of
// URL-safe characters, no trailing slash, no dot segments.
const STATUS_PATH = /^(\/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)+$/

export const statusSchema = section({
  path: { ...patterned(STATUS_PATH, "an absolute path without a trailing slash ('/lolly', '/admin/upstreams')", { description: 'Where the page is served.', default: '/lolly' }), maxLength: 200 },
  onRequest: kind('function', 'a Fastify onRequest hook function', { description: 'Guards the routes; without it only loopback clients are served.' }),
  actions: boolean({ description: 'With onRequest: serve the drain, disable and enable buttons and their POST routes.', default: true }),
  // Each change is about 200 bytes of JSON in the event stream's first message: 1,000 of them is
  // 200 KB, well under the 1 MiB a client may fall behind before the stream cuts it (status-stream).
  history: integer(0, 1_000, { description: 'State changes kept from register on, for a page opened later.', default: 100 })
}, { description: 'The live status page. Off unless set; true serves /lolly to loopback clients.' })

export const tracingSchema = section({
  probes: boolean({ description: 'Trace active health probes too, each as a root client span.', default: false })
}, { description: 'OpenTelemetry client spans of every try, when @opentelemetry/api is installed and an SDK registered. On by default; false turns it off.', default: true })
