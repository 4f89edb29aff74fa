import { boolean, choice, duration, integer, nonEmptyString, object, patterned } from '../options/schema/leaves.js'
import { jsonSubset } from '../options/schema/json-subset.js'
import { definitions } from '../options/schema/definitions.js'
import { pluginProperties } from '../options/schema/plugin.js'
import { statusSchema } from '../options/schema/sections.js'
import { routeSettingsProperties } from '../options/schema/upstream.js'

// The `lolly` command's configuration file: the command's own keys, and every plugin option a file
// can hold (the plugin's schema less what only code can give). A new key of the file is added here.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
// Literal path segments only: ':' and '*' are route syntax in Fastify, '%' would make the prefix
// compare differently to the raw request path it is stripped from, '?' and '#' end a path.
const ROUTE_PATH = /^(\/[A-Za-z0-9._~!$&'()+,;=@-]+)*\/?$/
const PATH_EXPECT = 'a path starting with / made of literal segments (no :param, *, %, ? or #)'

const LISTEN_EXPECT = 'an object ({ host, port, tls, http2, redirect }) or a non-empty array of them'

function pemFile (doc: { description: string, examples: string[] }) {
  return { ...nonEmptyString(doc), lollyExpect: { default: 'a non-empty string', required: 'the path of a PEM file' } } as const
}

// One `listen` entry. Rules across keys and entries (http2 and redirect need tls on the serving
// entry, one serving entry, distinct ports) and the PEM files themselves are listen-config's.
const listenEntry = object({
  host: nonEmptyString({ description: 'Address to listen on.', default: '127.0.0.1' }),
  port: integer(0, 65_535, { description: 'Port to listen on; 0 picks a free one. Required on a redirect entry.', default: 3000 }, 'an integer from 0 to 65535'),
  tls: {
    ...object({
      cert: pemFile({ description: 'PEM certificate file (the chain may follow it), relative to this file\'s folder.', examples: ['fullchain.pem'] }),
      key: pemFile({ description: 'Unencrypted PEM private key file, relative to this file\'s folder.', examples: ['privkey.pem'] })
    }, 'an object', { description: 'Serve HTTPS with these files; re-read on SIGHUP (open connections keep theirs).' }),
    required: ['cert', 'key']
  },
  http2: boolean({ description: 'HTTP/2 through ALPN, HTTP/1.1 (and WebSocket) for other clients. Needs tls.', default: false }),
  redirect: boolean({ description: 'A plain-HTTP entry answering every request with 308 to the same URL on the tls entry.', default: false })
}, 'an object', { description: 'A listen entry.' })

/** The keys of the file that are the command's own; every other key belongs to the plugin. */
export const gatewayProperties = {
  listen: {
    if: { type: 'array' },
    then: {
      type: 'array',
      minItems: 1,
      items: listenEntry,
      lollyExpect: LISTEN_EXPECT
    },
    // Neither a list nor an object: the message names both forms.
    else: { ...listenEntry, lollyExpect: LISTEN_EXPECT },
    description: 'Where the gateway listens: one entry, or a list of which one serves and the others redirect plain HTTP to it (--host and --port win over the serving entry).'
  },
  logger: object({
    level: choice(LOG_LEVELS, { default: 'info' })
  }, 'an object', { description: 'The gateway\'s log (pino, one JSON line per event).' }),
  routes: {
    type: 'array',
    minItems: 1,
    lollyExpect: 'a non-empty array of { prefix, upstream, rewritePrefix }',
    description: 'Path prefixes and the upstream each goes to. Default: every path to the default upstream, unchanged.',
    items: {
      ...object({
        prefix: {
          ...patterned(ROUTE_PATH, PATH_EXPECT, { description: 'Requests whose path starts with it take this route.', examples: ['/api'] }),
          lollyExpect: { default: PATH_EXPECT, required: "a path such as '/api'" }
        },
        upstream: nonEmptyString({ description: 'The upstream the route proxies to. Default: the default upstream.' }),
        rewritePrefix: patterned(ROUTE_PATH, PATH_EXPECT, { description: 'What replaces prefix in the path sent upstream (\'\' strips it). Default: the prefix.' }),
        ...routeSettingsProperties
      }),
      required: ['prefix']
    }
  },
  trustProxy: {
    lollyExpect: 'true, a hop count, or the address(es)/CIDR(s) of the proxies in front',
    description: 'Fastify\'s trustProxy: true, a hop count, or the addresses/CIDRs of the proxies in front. Default false.',
    default: false,
    anyOf: [
      { type: 'boolean' },
      { type: 'integer', minimum: 0 },
      { type: 'string', minLength: 1 },
      { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }
    ]
  },
  shutdownTimeout: duration({ description: 'Longest wait for in-flight requests on SIGTERM/SIGINT, ms; 0 waits as long as they take.', default: 30_000 }, 0)
} as const

// Editors read a JSON file's schema from it; the command ignores it.
const schemaReference = { type: 'string', lollyExpect: 'a string', description: 'The JSON Schema of the file, for editors (the package has it: fastify-lolly/schema.json).' } as const

export const CLI_KEYS = [...Object.keys(gatewayProperties), '$schema']

// status.actions serves buttons only behind status.onRequest, a function no file can hold: in a file
// it could do nothing, so a file cannot have it (the page of the lolly command is read-only).
const { actions: _actions, ...fileStatusProperties } = statusSchema.properties
const fileStatusSchema = { ...statusSchema, properties: fileStatusProperties }

/** The whole file: the plugin options a file can hold (no functions, no registry) and the command's keys. */
export const gatewaySchema = jsonSubset({
  title: 'fastify-lolly gateway configuration (lolly --config)',
  description: 'A lolly file: where the gateway listens, its routes, and the plugin options (targets or upstreams, balancing, health, failover, ...).',
  ...object({ ...gatewayProperties, ...pluginProperties, status: fileStatusSchema, $schema: schemaReference }, 'an object (a mapping of keys) at the top'),
  definitions,
  if: { required: ['upstreams'] },
  else: { required: ['targets'], lollyExpect: 'a non-empty array of targets' }
})!
