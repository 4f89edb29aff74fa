/// <reference types="@fastify/reply-from" preserve="true" />
// reply.from() and its options are typed by reply-from; loading its types here makes them part of ours.
import type { LollyApi } from '../operator/lolly-api.js'
import type { RouteUpstreamOption } from '../options/types.js'
import type { TryRecord } from '../pool/pool-events.js'

/** What `request.lolly` shows a route's hooks after reply.from(): the upstream and every try. */
export interface LollyRequestInfo {
  readonly upstream: string
  readonly tries: readonly TryRecord[]
}

declare module 'fastify' {
  interface FastifyInstance {
    lolly: LollyApi
  }
  interface FastifyRequest {
    /** Set by reply.from(); null before. */
    lolly: LollyRequestInfo | null
  }
  interface FastifyContextConfig {
    /** The upstream this route's reply.from() uses, optionally with a balancer, failover and timeouts of its own. */
    upstream?: RouteUpstreamOption
  }
}
