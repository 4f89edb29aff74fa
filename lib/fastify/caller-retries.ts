import type { FastifyReplyFromHooks } from '@fastify/reply-from'

type FromOptions = FastifyReplyFromHooks
type RetryDetails = Parameters<NonNullable<FromOptions['retryDelay']>>[0]
type SentRequest = { method: string, headers: Record<string, unknown> }
type Answer = { statusCode: number, headers: Record<string, unknown> } | null | undefined

// The methods reply-from retries by default (its plugin option `retryMethods`).
const RETRIED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
// reply-from's default for a call's `maxRetriesOn503`.
const MAX_RETRIES_ON_503 = 10

/**
 * reply-from's own retries of a call: the hosted reply-from has them off (its retries of a 503 would
 * fight the pool's failover), and a call that asks for them gets them back here, as reply-from decides
 * them. A call's `retriesCount` (without `retryDelay`) retries an idempotent request without a body
 * whose connection broke; a call's `retryDelay` gets a `getDefaultDelay` that decides as reply-from's.
 * Each retry goes through the pool again, so it may reach another target. Returns the retryDelay to
 * give reply-from: undefined when the call asks for neither.
 */
export function withCallerRetries (opts: FromOptions): FromOptions['retryDelay'] {
  const theirs = opts.retryDelay
  const retriesCount = opts.retriesCount ?? 0
  // A call option in reply-from's code, though its types list it among the plugin's.
  const maxRetriesOn503 = (opts as { maxRetriesOn503?: number }).maxRetriesOn503 ?? MAX_RETRIES_ON_503
  if (theirs === undefined) {
    if (retriesCount === 0) return undefined
    return ({ req, res, err, attempt }) => defaultDelay(req as unknown as SentRequest, res as unknown as Answer, err, attempt, retriesCount, maxRetriesOn503)
  }
  return (details: RetryDetails) => theirs({
    ...details,
    getDefaultDelay: ((req: SentRequest, res: Answer, err: Error | null, attempt: number) => defaultDelay(req, res, err, attempt, retriesCount, maxRetriesOn503)) as unknown as RetryDetails['getDefaultDelay']
  })
}

/**
 * reply-from's getDefaultDelay, with its default retryMethods: a GET answered 503 is retried (up to
 * maxRetriesOn503 times, only when the call set no retriesCount), a socket error up to retriesCount
 * times; never a request with a body. The delay is Retry-After's value as reply-from passes it on
 * (the header's string, which setTimeout reads as milliseconds), or its random one ("Magic number,
 * so why not 42?").
 */
function defaultDelay (req: SentRequest, res: Answer, err: Error | null, attempt: number, retriesCount: number, maxRetriesOn503: number): number | null {
  if (!RETRIED_METHODS.has(req.method) || Boolean(req.headers['content-length'])) return null
  const retryAfter = res?.headers['retry-after']
  const delay = retryAfter !== undefined ? retryAfter as number : 42 * Math.random() * (attempt + 1)
  if (res != null && res.statusCode === 503 && req.method === 'GET') {
    return retriesCount === 0 && attempt < maxRetriesOn503 ? delay : null
  }
  return retriesCount > attempt && (err as (Error & { code?: string }) | null)?.code === 'UND_ERR_SOCKET' ? delay : null
}
