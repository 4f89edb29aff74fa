import { DrainInterruptedError } from '../errors.js'
import type { Target } from './target.js'

interface Waiter {
  resolve (): void
  reject (err: Error): void
}

/**
 * Promises that settle when a target has no request in flight: what drain() and removeTarget()
 * wait for. The pool tells it when a target's in-flight count reaches 0; while nobody waits that
 * costs one Map size check per finished request.
 */
export class IdleWaiters {
  private readonly waiting = new Map<Target, Waiter[]>()

  /** Resolves once `target` has no request in flight (at once if it has none). */
  wait (target: Target): Promise<void> {
    if (target.inflight === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const list = this.waiting.get(target)
      if (list === undefined) this.waiting.set(target, [{ resolve, reject }])
      else list.push({ resolve, reject })
    })
  }

  /** Called by the pool after a request to `target` ended. */
  ended (target: Target): void {
    if (this.waiting.size === 0 || target.inflight !== 0) return
    const list = this.waiting.get(target)
    if (list === undefined) return
    this.waiting.delete(target)
    for (const waiter of list) waiter.resolve()
  }

  /** The target takes new requests again before it went idle: a drain waiting on it was called off. */
  interrupt (target: Target, upstream: string, reason: string): void {
    const list = this.waiting.get(target)
    if (list === undefined) return
    this.waiting.delete(target)
    const err = new DrainInterruptedError(target.url, upstream, reason)
    for (const waiter of list) waiter.reject(err)
  }
}
