import type { FastifyInstance, FastifyReply } from 'fastify'
import replyFrom, { type FastifyReplyFromHooks, type FastifyReplyFromOptions } from '@fastify/reply-from'
import type { Dispatcher } from 'undici'
import type { NormalizedReplyFrom } from '../options/types.js'

export type ReplyFromImpl = (this: FastifyReply, source?: string, opts?: FastifyReplyFromHooks) => FastifyReply

/**
 * reply-from is addressed at a placeholder origin in a reserved TLD (RFC 2606): reply-from's own
 * check that a source stays inside its base then rejects absolute-form targets and `//host` paths,
 * and if anything ever leaked the name could not resolve. The pool replaces it with the target.
 */
export const PLACEHOLDER_BASE = 'http://upstream.fastify-lolly.invalid'
/** Its host, the Host header reply-from sets (and a caller's rewriteRequestHeaders sees). */
export const PLACEHOLDER_HOST = new URL(PLACEHOLDER_BASE).host

/**
 * Runs @fastify/reply-from's plugin against a facade of `app` that keeps its `reply.from`
 * implementation for us instead of decorating with it, so that our `reply.from` can wrap it.
 */
export async function hostReplyFrom (app: FastifyInstance, dispatcher: Dispatcher, settings: NormalizedReplyFrom): Promise<ReplyFromImpl> {
  let captured: ReplyFromImpl | undefined
  const facade = Object.create(app, {
    decorateReply: {
      value (name: string, fn: ReplyFromImpl) {
        if (name === 'from') captured = fn
        return facade
      }
    }
  }) as FastifyInstance
  const options: FastifyReplyFromOptions = {
    base: PLACEHOLDER_BASE,
    undici: dispatcher as FastifyReplyFromOptions['undici'],
    // Failover is the pool's job: reply-from's own retries would go back to the same placeholder and
    // re-send GETs that answered 503 up to ten times, with Retry-After read as milliseconds.
    retryMethods: [],
    contentTypesToEncode: settings.contentTypesToEncode,
    disableRequestLogging: settings.disableRequestLogging,
    cacheURLs: settings.cacheURLs,
    disableCache: settings.disableCache
  }
  await new Promise<void>((resolve, reject) => {
    (replyFrom as unknown as (i: FastifyInstance, o: unknown, next: (err?: Error) => void) => void)(
      facade, options, (err) => {
        // reply-from fails its registration only for http2 without a base; the options above are fixed.
        /* c8 ignore next */
        if (err !== undefined) reject(err)
        resolve()
      })
  })
  return captured!
}
