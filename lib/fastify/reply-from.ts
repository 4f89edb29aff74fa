import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { BadRequestTargetError, NoAvailableTargetError } from '../errors.js'
import { openTunnel } from '../tunnel/open-tunnel.js'
import { kUpgrade, type IncomingWithUpgrade } from '../tunnel/upgrade-listener.js'
import { FastAnswer } from './fast-answer.js'
import { fastPath, fastRequest } from './fast-request.js'
import { kFromCall, FromCall } from './from-call.js'
import { isAbsolute, pathInPool } from './pool-urls.js'
import type { ReplyFromImpl } from './reply-from-host.js'
import { isLollyError, type FromOptions, type ReplyFromHooks } from './reply-from-hooks.js'
import type { RouteDestinations } from './route-binding.js'

type WithCall<T> = T & { [kFromCall]: FromCall | null }

/**
 * Builds our `reply.from`: the calls the fast path covers (fast-request.ts says which) are built
 * here and answered by a FastAnswer straight from the route's pool; every other one is reply-from's,
 * sent through the route's pool, with our hooks in front of the caller's.
 */
export function buildFrom (original: ReplyFromImpl, hooks: ReplyFromHooks, destinations: RouteDestinations, fast: boolean) {
  return function from (this: FastifyReply, source?: string, opts?: FromOptions): FastifyReply {
    const destination = destinations.of(this)
    const request = this.request as WithCall<FastifyReply['request']>
    const call = new FromCall(destination, this)
    request[kFromCall] = call
    request.lolly = { upstream: destination.pool.name, tries: call.log }
    const res = this.raw as WithCall<ServerResponse>
    res[kFromCall] = call
    res.on('close', onResponseClose)
    if (destination.settings.affinity !== null) call.stick(request.headers.cookie)
    const upgrade = (request.raw as IncomingWithUpgrade)[kUpgrade]
    if (upgrade !== undefined) return openTunnel(this, call, upgrade, source, opts, hooks.xForwarded)
    // Not with reply-from's request logging on (disableRequestLogging: false): its lines are reply-from's.
    const path = fast ? fastPath(request, source, opts) : undefined
    if (path !== undefined) {
      const dispatch = fastRequest(call, path, opts, hooks.xForwarded)
      call.send(dispatch, new FastAnswer(call, opts, dispatch.method))
      return this
    }
    try {
      // An absolute source (or a client's absolute-form request target) whose origin is one of the
      // pool's targets goes to the pool by its path; reply-from itself refuses any source that would
      // leave its base, which is how every other URL is refused.
      // (A request's own URL starts with '/' but for the absolute form: one char code on the hot path.)
      // reply-from reads any empty source (undefined, '') as the request's URL.
      if (source ? isAbsolute(source) : request.url.charCodeAt(0) !== 47 && isAbsolute(request.url)) {
        source = pathInPool(destination.pool, source || request.url.split('?', 1)[0])
      }
      return original.call(this, source, opts === undefined ? hooks.defaults : hooks.withCaller(opts))
    } catch (err) {
      // reply-from refuses sources that would leave the base (`//host`), cannot build a URL from some
      // (`/\\/` reads as an empty host), and throws decodeURIComponent's URIError for malformed
      // percent-encoding the router let through (it ignores the fragment: `/x#%zz`). A getUpstream's
      // answer never reaches it (see chooseUpstream), so these come from the source alone.
      if ((err as Error).message === 'source must be a relative path string' || (err as { code?: string }).code === 'ERR_INVALID_URL' || err instanceof URIError) {
        return this.send(new BadRequestTargetError(JSON.stringify(source || request.url)))
      }
      // Ours, raised before anything was sent: a refused absolute source (400), a getUpstream that
      // named no target of the pool (500), a pool with no target at all (503).
      if (isLollyError(err as Error)) {
        if (err instanceof NoAvailableTargetError) this.header('retry-after', '1')
        return this.send(err)
      }
      throw err
    }
  }
}

/**
 * The response closed. Before it was complete, the client went away: the upstream request stops, its
 * in-flight slot is given back and no target is blamed. Either way, answers that a caller's retry
 * replaced stop too. One listener on the response, which lives as long as the request, so nothing
 * accumulates on a keep-alive connection; the function is shared and finds the call on the response,
 * so no closure is made per request.
 */
function onResponseClose (this: WithCall<ServerResponse>): void {
  this[kFromCall]!.responseClosed(this.writableFinished)
}
