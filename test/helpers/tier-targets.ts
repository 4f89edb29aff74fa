import type { Dispatcher } from 'undici'
import { BalancerSet } from '../../lib/balancers/balancer-set.js'
import type { Balancer, PickContext } from '../../lib/balancers/balancer.js'
import { createBalancer } from '../../lib/balancers/create-balancer.js'
import type { BalancerName, BalancerSpec, NormalizedTarget } from '../../lib/options/types.js'
import { Target, type PoolFields, type TargetConnectionSettings } from '../../lib/pool/target.js'

interface Teardown { teardown (fn: () => unknown): void }

const SETTINGS: TargetConnectionSettings = {
  connections: 1,
  pipelining: 1,
  connectTimeout: 1000,
  responseTimeout: 1000,
  bodyTimeout: 1000,
  tlsRejectUnauthorized: true
}

export type TargetSpec = Partial<Omit<NormalizedTarget, 'url' | 'origin' | 'basePath'>>

/**
 * Targets for driving balancers directly, with distinct URLs and pool indexes. Nothing connects
 * (undici pools connect lazily); their dispatchers are closed in teardown.
 */
export function makeTargets (t: Teardown, specs: number | TargetSpec[]): Target[] {
  const list: TargetSpec[] = typeof specs === 'number' ? Array.from({ length: specs }, () => ({})) : specs
  const targets = list.map((spec, i) => {
    const origin = `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`
    const config: NormalizedTarget = { url: origin, origin, basePath: '', name: null, weight: 1, backup: false, down: false, maxConnections: 0, tier: spec.backup === true ? 1 : 0, virtualHost: null, source: null, ...spec }
    const target = new Target(config, 'test', SETTINGS, config.down ? 'disabled' : 'healthy', Date.now())
    writable(target).index = i
    return target
  })
  t.teardown(() => Promise.all(targets.map((target) => target.dispatcher.close())))
  return targets
}

export function spec (name: BalancerName, hashBalanceFactor = 1.25): BalancerSpec {
  return { name, hashKey: { kind: 'header', name: 'x-key' }, hashBalanceFactor }
}

export function balancerFor (name: BalancerName, targets: readonly Target[], hashBalanceFactor = 1.25): Balancer {
  const balancer = createBalancer(spec(name, hashBalanceFactor))
  balancer.rebuild(targets)
  return balancer
}

export function context (key = ''): PickContext {
  return { key }
}

/** Dispatch options whose x-key header is the hash key of the request (see `spec`). */
export function request (key = ''): Dispatcher.DispatchOptions {
  return { method: 'GET', path: '/', headers: { 'x-key': key } }
}

/** A BalancerSet over primaries and backups, as a pool would build it. */
export function balancerSet (name: BalancerName, primaries: readonly Target[], backups: readonly Target[] = [], hashBalanceFactor = 1.25): BalancerSet {
  const set = new BalancerSet(spec(name, hashBalanceFactor))
  set.rebuild([primaries, backups])
  return set
}

/** A target's pool-owned fields, for setting up what a balancer sees (in-flight counts, weights, latency). */
export function writable (target: Target): PoolFields {
  return target
}

/** Counts picks per target URL over `picks` attempt-0 picks, counting each as begun and ended. */
export function countPicks (balancer: Balancer, picks: number, key: (i: number) => string = () => ''): Map<Target, number> {
  const counts = new Map<Target, number>()
  const ctx = context()
  for (let i = 0; i < picks; i++) {
    ctx.key = key(i)
    const target = balancer.pick(ctx, 0)!
    counts.set(target, (counts.get(target) ?? 0) + 1)
  }
  return counts
}

/** Sets a target's in-flight count and tells the balancer, as UpstreamPool#begin/end would. */
export function setInflight (balancer: Balancer, target: Target, inflight: number): void {
  writable(target).inflight = inflight
  balancer.onLoadChange?.(target)
}
