import { InvalidOptionError } from '../errors.js'
import { invalid, readBoolean, readInteger, show, type Plain } from './option-reader.js'
import type { NormalizedReplyFrom } from './types.js'

// The plugin options of @fastify/reply-from that keep their meaning behind a pool: they are handed to
// the reply-from fastify-lolly hosts. Every other option of reply-from is refused by name, with what
// to use instead, so a user moving over never has an option silently ignored.
export const REPLY_FROM_KEYS = ['contentTypesToEncode', 'disableRequestLogging', 'cacheURLs', 'disableCache']

const INSTEAD: Readonly<Record<string, string>> = {
  base: 'give the targets instead: `targets: [base]` (one or more URLs), or named `upstreams`',
  http: 'fastify-lolly sends through undici connection pools of its own; their settings are `connections`, `pipelining`, `connectTimeout`, `responseTimeout`, `bodyTimeout` and `tlsRejectUnauthorized`',
  http2: 'fastify-lolly speaks HTTP/1.1 to targets (clients may still use HTTP/2)',
  undici: 'each target has an undici Pool of its own; set `connections`, `pipelining`, `connectTimeout`, `responseTimeout`, `bodyTimeout` and `tlsRejectUnauthorized` instead',
  balancedPoolOptions: 'balancing is fastify-lolly\'s own: `targets`, `balancer` and the health options replace undici\'s BalancedPool',
  globalAgent: 'each target has a connection pool of its own',
  destroyAgent: 'fastify-lolly closes its connection pools itself, when the app closes',
  sessionTimeout: 'fastify-lolly speaks HTTP/1.1 to targets (sessionTimeout is for HTTP/2)',
  retryMethods: 'reply-from\'s own retries are off: fastify-lolly fails over to another target (`retry`; `retry.nonIdempotent` for other methods); a reply.from() `retryDelay` still works',
  maxRetriesOn503: 'reply-from\'s own retries are off: `retry.on` with \'status\' and `retry.statuses` retry a 503 on another target'
}

/** Refuses a plugin option that belongs to @fastify/reply-from and has no meaning behind a pool. */
export function refuseReplyFromOption (key: string, value: unknown): void {
  const instead = INSTEAD[key]
  if (instead !== undefined) {
    throw new InvalidOptionError(`${key} is an option of @fastify/reply-from that fastify-lolly does not take (got ${show(value)}): ${instead}`)
  }
}

/** Reads the reply-from options fastify-lolly passes on to the reply-from it hosts. */
export function readReplyFromOptions (options: Plain): NormalizedReplyFrom {
  return {
    contentTypesToEncode: readMediaTypes(options.contentTypesToEncode),
    // Off unless asked for: reply-from's two info lines per proxied request would drown the state
    // transitions fastify-lolly logs (reply-from's default is on).
    disableRequestLogging: readBoolean(options, 'disableRequestLogging', '', true),
    cacheURLs: readInteger(options, 'cacheURLs', '', 100, { min: 1, max: 1_000_000 }),
    disableCache: readBoolean(options, 'disableCache', '', false)
  }
}

// A media type as reply-from compares it: `type/subtype`, no parameters (it strips them from the request's Content-Type).
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/

function readMediaTypes (value: unknown): string[] {
  if (value === undefined) return []
  const expectation = 'an array of media types (type/subtype, lower case, no parameters)'
  if (!Array.isArray(value)) throw invalid('contentTypesToEncode', expectation, value)
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i]
    if (typeof entry !== 'string' || !MEDIA_TYPE.test(entry)) throw invalid(`contentTypesToEncode[${i}]`, 'a media type such as \'application/x-www-form-urlencoded\' (lower case, no parameters)', entry)
  }
  return [...value] as string[]
}
