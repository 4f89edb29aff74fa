import type { FastifyInstance } from 'fastify'
import type { UpstreamPool } from '../../lib/pool/upstream-pool.js'
import { poolOf as poolBehind } from '../../lib/proxy/pool-dispatcher.js'

/**
 * The pool behind an upstream, for tests that drive it past the public surface (setting a state
 * directly through its TargetHealth, reading its in-flight count or retry budget).
 */
export function poolOf (app: FastifyInstance, upstream = 'default'): UpstreamPool {
  return poolBehind(app.lolly.upstreams[upstream].dispatcher)
}
