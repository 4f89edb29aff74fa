import { InvalidOptionError } from '../errors.js'
import { pick, show, type Plain } from './option-reader.js'
import type { NormalizedReplyFrom } from './types.js'

// The plugin options of @fastify/reply-from that keep their meaning behind a pool are handed to the
// reply-from fastify-lolly hosts (schema/plugin.ts). Every other option of reply-from is refused by
// name, with what to use instead, so a user moving over never has an option silently ignored.

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
    contentTypesToEncode: [...pick<string[]>(options, 'contentTypesToEncode', [])],
    // Off unless asked for: reply-from's two info lines per proxied request would drown the state
    // transitions fastify-lolly logs (reply-from's default is on).
    disableRequestLogging: pick(options, 'disableRequestLogging', true),
    cacheURLs: pick(options, 'cacheURLs', 100),
    disableCache: pick(options, 'disableCache', false)
  }
}
