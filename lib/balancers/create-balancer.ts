import type { BalancerSpec } from '../options/types.js'
import type { Balancer } from './balancer.js'
import { ConsistentHashBalancer } from './consistent-hash.js'
import { FirstBalancer } from './first.js'
import { LeastConnectionsBalancer } from './least-connections.js'
import { LeastLatencyBalancer } from './least-latency.js'
import { P2cBalancer } from './p2c.js'
import { RandomBalancer } from './random.js'
import { RoundRobinBalancer } from './round-robin.js'

/** Builds an empty balancer for one tier of a pool; the pool fills it with `rebuild`. */
export function createBalancer (spec: BalancerSpec): Balancer {
  switch (spec.name) {
    case 'round-robin':
      return new RoundRobinBalancer()
    case 'random':
      return new RandomBalancer()
    case 'least-connections':
      return new LeastConnectionsBalancer()
    case 'p2c':
      return new P2cBalancer()
    case 'least-latency':
      return new LeastLatencyBalancer()
    // ip-hash is consistent hashing whose key the options fix to the client IP.
    case 'consistent-hash':
    case 'ip-hash':
      return new ConsistentHashBalancer(spec.hashBalanceFactor)
    case 'first':
      return new FirstBalancer()
  }
}
