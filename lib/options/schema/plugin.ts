import { boolean, integer, nonEmptyString, object, patterned } from './leaves.js'
import { metricsSchema, statusSchema, tracingSchema } from './sections.js'
import { definitions, ref } from './definitions.js'
import { targetsSchema } from './target.js'
import { routeSettingsProperties, upstreamSettingsProperties } from './upstream.js'

// The options given to `register`: the single source of truth for their shape. Cross-field rules
// (targets or upstreams, defaultUpstream naming one, unique target URLs) are the readers'.

// Upstream names appear in snapshots, logs, metrics labels and URLs of the status page.
const UPSTREAM_NAME = /^[A-Za-z0-9_.-]{1,64}$/
// A media type as reply-from compares it: `type/subtype`, no parameters (it strips them from the request's Content-Type).
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/

const namedUpstream = {
  ...object({ targets: ref('targets'), ...upstreamSettingsProperties }),
  required: ['targets']
} as const

/** The plugin options of @fastify/reply-from that keep their meaning behind a pool (handed to the reply-from fastify-lolly hosts). */
const replyFromProperties = {
  contentTypesToEncode: {
    type: 'array',
    items: patterned(MEDIA_TYPE, "a media type such as 'application/x-www-form-urlencoded' (lower case, no parameters)"),
    lollyExpect: 'an array of media types (type/subtype, lower case, no parameters)',
    description: 'Request Content-Types (besides application/json) whose parsed bodies are sent on as JSON.'
  },
  disableRequestLogging: boolean({ description: '@fastify/reply-from\'s per-request info lines; true (the default) turns them off.', default: true }),
  cacheURLs: integer(1, 1_000_000, { description: 'Size of @fastify/reply-from\'s cache of built URLs.', default: 100 }),
  disableCache: boolean({ default: false })
} as const

export const pluginProperties = {
  targets: { ...targetsSchema, description: 'Targets of the single pool named \'default\'. Not allowed together with upstreams.' },
  upstreams: {
    type: 'object',
    lollyPlain: true,
    minProperties: 1,
    propertyNames: patterned(UPSTREAM_NAME, 'named with letters, digits, _ . - (at most 64)'),
    additionalProperties: namedUpstream,
    lollyExpect: { default: 'an object', minProperties: 'an object with at least one upstream' },
    description: 'Several named pools; the top-level settings are their defaults.'
  },
  defaultUpstream: nonEmptyString({ description: 'The pool used by routes that name none. Default: \'default\', or the first named pool.' }),
  xForwarded: boolean({ description: 'Set X-Forwarded-For, -Proto and -Host from Fastify\'s view of the request.', default: true }),
  status: statusSchema,
  metrics: metricsSchema,
  tracing: tracingSchema,
  ...replyFromProperties,
  ...upstreamSettingsProperties
} as const

export const pluginSchema = {
  ...object(pluginProperties),
  definitions,
  if: { required: ['upstreams'] },
  else: { required: ['targets'], lollyExpect: 'a non-empty array of targets' }
} as const

/** A plugin route's `config.upstream` as an object: an upstream's name and the route's own settings. */
export const routeUpstreamSchema = {
  ...object({
    // Any value: the binding names a missing (or non-string) upstream itself, with the ones that exist.
    name: { description: 'The upstream the route proxies to. Default: the default upstream.' },
    ...routeSettingsProperties
  }, 'an upstream name or an object { name, balancer, hashKey, retry, ... }'),
  definitions
} as const
