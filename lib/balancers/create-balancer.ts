import type { BalancerSpec } from '../options/types.js'
import type { Balancer } from './balancer.js'
import { RoundRobinBalancer } from './round-robin.js'

/** Builds an empty balancer for one tier of a pool; the pool fills it with `rebuild`. */
export function createBalancer (spec: BalancerSpec): Balancer {
  switch (spec.name) {
    case 'round-robin':
      return new RoundRobinBalancer()
    default:
      throw new Error(`balancer ${spec.name} is not built yet`)
  }
}
