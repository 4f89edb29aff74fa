import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { StatusActionForbiddenError, UnknownTargetError } from '../errors.js'
import { readTargetUrl } from '../options/target-options.js'
import type { Target } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

/** What the buttons do: `app.lolly`'s runtime management (lib/operator/target-management.ts). */
export interface TargetActions {
  drain (upstream: string, url: string): Promise<void>
  disable (upstream: string, url: string): void
  enable (upstream: string, url: string): void
}

/** The header the page sends its token in. */
export const ACTION_TOKEN_HEADER = 'x-lolly-token'

/** A random token per plugin instance, written into the page and wanted back with every action. */
export function newActionToken (): string {
  return randomBytes(32).toString('base64url')
}

interface ActionRequest { Params: { upstream: string }, Querystring: { target?: string } }

/**
 * `POST <path>/targets/:upstream/(drain|disable|enable)?target=<the target's URL, percent-encoded>`:
 * behind the user's guard, then a CSRF check. The answer is the target's snapshot once the command
 * took (a drain answers at once, draining, not when it went idle). The URL is in the query, not a
 * path parameter: Fastify refuses a parameter longer than maxParamLength (100 by default) and would
 * then look for another route, an application's catch-all proxy route included.
 */
export function registerActionRoutes (app: FastifyInstance, path: string, guard: onRequestHookHandler, token: string,
  pools: readonly UpstreamPool[], actions: TargetActions): void {
  const expected = Buffer.from(token)
  // The token in a custom header: an HTML form cannot set one, and a cross-site fetch that sets one
  // needs a CORS preflight nothing here answers. Origin and Sec-Fetch-Site, when the browser sends
  // them, must say the same origin too: the token alone would do, but a leaked one then still needs a same-origin page.
  const sameSite = (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    const sent = request.headers[ACTION_TOKEN_HEADER]
    // Compared as bytes: a header of the token's length in characters may be longer in bytes (latin1 above 0x7f).
    const got = typeof sent === 'string' ? Buffer.from(sent) : undefined
    if (got === undefined || got.length !== expected.length || !timingSafeEqual(got, expected)) {
      return done(new StatusActionForbiddenError(`the ${ACTION_TOKEN_HEADER} header is missing or wrong`))
    }
    const site = request.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin') return done(new StatusActionForbiddenError(`Sec-Fetch-Site is ${site}`))
    const origin = request.headers.origin
    if (origin !== undefined && hostOf(origin) !== request.host) return done(new StatusActionForbiddenError(`Origin ${origin} is not ${request.host}`))
    done()
  }
  const route = `${path}/targets/:upstream/`
  const onRequest = [guard, sameSite]
  // 404 for what names no target, a malformed URL included: a client's input, not an option.
  const find = (request: FastifyRequest<ActionRequest>): Target => {
    let url = request.query.target ?? ''
    try {
      url = readTargetUrl(url, 'target').url
    } catch {}
    const upstream = request.params.upstream
    const target = pools.find((pool) => pool.name === upstream)?.target(url)
    if (target === undefined) throw new UnknownTargetError(`upstream ${JSON.stringify(upstream)} has no target ${JSON.stringify(url)}`)
    return target
  }

  app.post<ActionRequest>(`${route}drain`, { onRequest }, async (request) => {
    const target = find(request)
    const idle = actions.drain(target.upstream, target.url)
    // Its wait for in-flight requests to finish is nobody's here, nor its end when enabled first (FST_LOLLY_DRAIN_INTERRUPTED).
    idle.catch(() => {})
    // A refusal (a target being removed) is: an async function has rejected by the time it returns, so it wins this race.
    await Promise.race([idle, undefined])
    return target.snapshot()
  })
  app.post<ActionRequest>(`${route}disable`, { onRequest }, async (request) => {
    const target = find(request)
    actions.disable(target.upstream, target.url)
    return target.snapshot()
  })
  app.post<ActionRequest>(`${route}enable`, { onRequest }, async (request) => {
    const target = find(request)
    actions.enable(target.upstream, target.url)
    return target.snapshot()
  })
}

function hostOf (origin: string): string | undefined {
  try {
    return new URL(origin).host
  } catch {
    // 'null' (an opaque origin: a sandboxed frame, a file: page) is no origin of ours.
    return undefined
  }
}
