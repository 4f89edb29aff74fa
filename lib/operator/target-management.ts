import { DiscoveredTargetError, UnknownTargetError } from '../errors.js'
import { invalid } from '../options/option-reader.js'
import { schemaCheck } from '../options/schema-check.js'
import { targetSchema } from '../options/schema/target.js'
import { readTarget, readTargetUrl } from '../options/target-options.js'
import type { Target, TargetSnapshot } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

// The runtime API's targets and weights have the options' limits: the same schema checks them.
const checkTarget = schemaCheck(targetSchema, 'target')
const checkWeight = schemaCheck(targetSchema.properties.weight, 'weight')

/**
 * Runtime management behind `app.lolly.addTarget/removeTarget/drain/enable/disable/setWeight`.
 * Arguments are validated like register's options (FST_LOLLY_INVALID_OPTION naming the argument);
 * an upstream or target that does not exist is FST_LOLLY_UNKNOWN_TARGET. State changes are operator
 * commands to the pool's TargetHealth, so they are reported like any other (event, diagnostics channel, log).
 */
export class TargetManager {
  private readonly pools: ReadonlyMap<string, UpstreamPool>
  /** Targets being removed: they drain, then leave their pool. */
  private readonly removals = new Map<Target, Promise<void>>()

  constructor (pools: ReadonlyMap<string, UpstreamPool>) {
    this.pools = pools
  }

  /** Adds a target (a URL or `{ url, weight, backup, down, maxConnections }`); it takes traffic at once. */
  addTarget (upstream: unknown, target: unknown): TargetSnapshot {
    const pool = this.pool(upstream)
    checkTarget(target, 'target')
    const config = readTarget(target, 'target')
    if (pool.target(config.url) !== undefined) {
      throw invalid(typeof target === 'string' ? 'target' : 'target.url', `a URL not yet in upstream "${pool.name}"`, config.url)
    }
    return pool.addTarget(config).snapshot()
  }

  /**
   * Stops new traffic to a target at once (state 'draining'), lets its in-flight requests finish,
   * then removes it and closes its connections. Resolves when that is done; calling it again while
   * it runs returns the same promise.
   */
  async removeTarget (upstream: unknown, url: unknown): Promise<void> {
    const { pool, target } = this.find(upstream, url, true)
    // Removed, it would be back at the next answer: its source decides when it goes.
    if (target.source !== null) throw new DiscoveredTargetError(target.url, pool.name, target.source)
    let removal = this.removals.get(target)
    if (removal === undefined) {
      pool.health.drain(target, 'removing at runtime')
      removal = pool.idle.wait(target)
        .then(() => {
          pool.detachTarget(target)
          return target.dispatcher.close()
        })
        .finally(() => this.removals.delete(target))
      this.removals.set(target, removal)
    }
    return removal
  }

  /**
   * Stops new traffic to a target (state 'draining') and resolves once it has no request in flight.
   * It stays draining until `enable`; enabling it before it went idle rejects the wait with
   * FST_LOLLY_DRAIN_INTERRUPTED, since whoever waits would otherwise act on a target taking traffic.
   */
  async drain (upstream: unknown, url: unknown): Promise<void> {
    const { pool, target } = this.find(upstream, url, false)
    pool.health.drain(target, 'drained at runtime')
    return pool.idle.wait(target)
  }

  /** Puts a disabled or draining target back into service (an unhealthy or ejected one stays so). */
  enable (upstream: unknown, url: unknown): void {
    const { pool, target } = this.find(upstream, url, false)
    pool.health.enable(target, 'enabled at runtime')
  }

  /** Takes a target out of service at once; its in-flight requests finish. */
  disable (upstream: unknown, url: unknown): void {
    const { pool, target } = this.find(upstream, url, false)
    pool.health.disable(target, 'disabled at runtime')
  }

  /** Changes a target's weight, within the same limits as the options. */
  setWeight (upstream: unknown, url: unknown, weight: unknown): void {
    const { pool, target } = this.find(upstream, url, false)
    checkWeight(weight)
    pool.setWeight(target, weight as number)
  }

  private pool (upstream: unknown): UpstreamPool {
    if (typeof upstream !== 'string' || upstream === '') throw invalid('upstream', 'an upstream name', upstream)
    const pool = this.pools.get(upstream)
    if (pool === undefined) {
      throw new UnknownTargetError(`upstream ${JSON.stringify(upstream)} does not exist (known: ${[...this.pools.keys()].join(', ')})`)
    }
    return pool
  }

  private find (upstream: unknown, url: unknown, removing: boolean): { pool: UpstreamPool, target: Target } {
    const pool = this.pool(upstream)
    // Normalised like register's target URLs, so 'http://host:80/' finds 'http://host'.
    const normalized = readTargetUrl(url, 'url').url
    const target = pool.target(normalized)
    if (target === undefined) throw new UnknownTargetError(`upstream "${pool.name}" has no target ${normalized}`)
    if (!removing && this.removals.has(target)) {
      throw new UnknownTargetError(`target ${normalized} of upstream "${pool.name}" is being removed`)
    }
    return { pool, target }
  }
}
