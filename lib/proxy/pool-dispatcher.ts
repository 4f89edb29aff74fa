import { Dispatcher, errors } from 'undici'
import { PoolClosedError } from '../errors.js'
import type { Target } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import { classicHandler } from './caller-handler.js'
import { poolDestination, type Destination } from './destination.js'
import { ProxiedRequest } from './proxied-request.js'

type Callback = () => void

// Set by the class's static block: the only way to the pool behind a dispatcher (see poolOf).
let poolBehind: (dispatcher: PoolDispatcher) => UpstreamPool

/**
 * A pool as an undici Dispatcher (`app.lolly.upstreams[name].dispatcher`): every request through it
 * goes to a target the pool's balancer picks, with the pool's failover. The origin in the request is
 * ignored. It keeps undici's contract: classic and new-style handlers alike (so it works under
 * `compose()`), argument and closed-pool errors reported to the handler's onError as undici's
 * dispatchers report them, `false` only once closed (where undici returns it too; no 'drain' is
 * owed), and the 'connect', 'disconnect' and 'connectionError' events of its targets' connection
 * pools re-emitted with itself first, as undici's pools do. Nothing of the pool is reachable from it.
 */
export class PoolDispatcher extends Dispatcher {
  // Private fields, not symbol keys: nothing reaches them from outside the class, reflection included.
  readonly #pool: UpstreamPool
  readonly #destination: Destination

  static {
    poolBehind = (dispatcher) => dispatcher.#pool
  }

  constructor (pool: UpstreamPool) {
    super()
    this.#pool = pool
    this.#destination = poolDestination(pool)
    for (const target of pool.targets) this.relayEvents(target)
    pool.observe({ membershipChanged: (change, target) => { if (change.change === 'added') this.relayEvents(target) } })
  }

  get closed (): boolean {
    return this.#pool.closed
  }

  override dispatch (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (handler === null || typeof handler !== 'object') throw new errors.InvalidArgumentError('handler must be an object')
    const caller = classicHandler(handler)
    const pool = this.#pool
    let refusal: Error | undefined
    if (opts === null || typeof opts !== 'object') refusal = new errors.InvalidArgumentError('opts must be an object.')
    else if (pool.closed) refusal = new PoolClosedError(pool.name)
    if (refusal !== undefined) {
      if (typeof caller.onError !== 'function') throw refusal
      caller.onError(refusal)
      return false
    }
    new ProxiedRequest(this.#destination, []).start(opts, caller)
    return true
  }

  override close (): Promise<void>
  override close (callback: Callback): void
  override close (callback?: Callback): Promise<void> | void {
    // Idempotent: the app's onClose and a user may both close the pool; after destroy, close is done too.
    const closing = this.#pool.close()
    if (callback === undefined) return closing
    closing.then(callback, callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: Callback): void
  override destroy (err: Error | null, callback: Callback): void
  override destroy (errOrCallback?: Error | null | Callback, callback?: Callback): Promise<void> | void {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback
    const destroying = this.#pool.destroy(typeof errOrCallback === 'function' ? null : (errOrCallback ?? null))
    if (cb === undefined) return destroying
    destroying.then(cb, cb)
  }

  private relayEvents (target: Target): void {
    const connections = target.dispatcher
    connections.on('connect', (origin, targets) => this.emit('connect', origin, [this, ...targets]))
    connections.on('disconnect', (origin, targets, err) => this.emit('disconnect', origin, [this, ...targets], err))
    connections.on('connectionError', (origin, targets, err) => this.emit('connectionError', origin, [this, ...targets], err))
  }
}

/** The pool behind a dispatcher of ours, for tests: the package exports nothing that leads there. */
export function poolOf (dispatcher: PoolDispatcher): UpstreamPool {
  return poolBehind(dispatcher)
}
