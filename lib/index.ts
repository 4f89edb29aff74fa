import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import './fastify/fastify-types.js'
import * as errors from './errors.js'
import type * as fastifyTypes from './fastify/fastify-types.js'
import { registerLolly } from './fastify/plugin.js'
import type * as discovery from './discovery/source-status.js'
import type * as api from './operator/lolly-api.js'
import { membershipChannel, stateChannel } from './operator/public-events.js'
import type * as health from './options/health-check-options.js'
import type * as metrics from './options/metrics-options.js'
import type * as retry from './options/retry-options.js'
import type * as status from './options/status-options.js'
import type * as tracing from './options/tracing-options.js'
import type * as websocket from './options/websocket-options.js'
import type * as affinity from './options/affinity-options.js'
import type * as options from './options/types.js'
import type * as events from './pool/pool-events.js'
import type { CheckResult as TargetCheckResult, ResponseCounts as Responses, TargetSnapshot as Snapshot, TargetState as State } from './pool/target.js'
import type * as dispatcher from './proxy/pool-dispatcher.js'

/**
 * fastify-lolly: `await app.register(lolly, { targets: [...] })`, then `reply.from()` in a route goes
 * to a target a balancer picks among those that can take traffic.
 */
async function lolly (app: FastifyInstance, opts: options.LollyOptions): Promise<void> {
  await registerLolly(app, opts)
}

declare namespace lolly {
  export type LollyOptions = options.LollyOptions
  export type UpstreamOptions = options.UpstreamOptions
  export type UpstreamSettings = options.UpstreamSettings
  export type TargetOptions = options.TargetOptions
  export type TargetInput = options.TargetInput
  export type TimeoutOptions = options.TimeoutOptions
  export type BalancerName = options.BalancerName
  export type HashKeyOption = options.HashKeyOption
  export type RouteUpstreamOption = options.RouteUpstreamOption
  export type PassiveOptions = options.PassiveOptions
  export type ResolverOptions = options.ResolverOptions
  export type DnsTargetOptions = options.DnsTargetOptions
  export type SrvTargetOptions = options.SrvTargetOptions
  export type ProviderTargetOptions = options.ProviderTargetOptions
  export type DiscoveredTarget = options.DiscoveredTarget
  export type DiscoveryContext = options.DiscoveryContext
  export type DiscoverySettings = options.DiscoverySettings
  export type DiscoveredTargetTemplate = options.DiscoveredTargetTemplate
  export type SourceSnapshot = discovery.SourceSnapshot
  export type HealthCheckOptions = health.HealthCheckOptions
  export type HealthCheckExpect = health.HealthCheckExpect
  export type RetryOptions = retry.RetryOptions
  export type RetryOn = retry.RetryOn
  export type StatusOptions = status.StatusOptions
  export type MetricsOptions = metrics.MetricsOptions
  export type TracingOptions = tracing.TracingOptions
  export type WebSocketOptions = websocket.WebSocketOptions
  export type AffinityOptions = affinity.AffinityOptions
  export type MetricsRegistry = metrics.MetricsRegistry
  export type CheckResult = TargetCheckResult
  export type PanicChange = events.PanicChange
  export type MembershipChange = events.MembershipChange
  export type StateChange = events.StateChange
  export type TryRecord = events.TryRecord
  export type TargetState = State
  export type TargetSnapshot = Snapshot
  export type ResponseCounts = Responses
  export type PoolDispatcher = dispatcher.PoolDispatcher
  export type UpstreamView = api.UpstreamView
  export type LollyApi = api.LollyApi
  export type LollyRequestInfo = fastifyTypes.LollyRequestInfo
  export const errors: typeof import('./errors.js')
  export const stateChannel: typeof import('./operator/public-events.js').stateChannel
  export const membershipChannel: typeof import('./operator/public-events.js').membershipChannel
  export { lolly as default, lolly }
}

fp(lolly, { fastify: '5.x', name: 'fastify-lolly' })
Object.assign(lolly, { default: lolly, lolly, errors, stateChannel, membershipChannel })
// Node's ESM loader finds the named exports of a CommonJS module by reading assignments like these.
exports.default = lolly
exports.lolly = lolly
exports.errors = errors
exports.stateChannel = stateChannel
exports.membershipChannel = membershipChannel

export = lolly
