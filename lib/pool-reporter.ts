import type { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import type { MembershipChange, PanicChange } from './upstream-pool.js'

export interface PoolReporter {
  panic (change: PanicChange): void
  membership (change: MembershipChange): void
}

/**
 * Tells the world about pool-level changes, once each: entering or leaving panic mode ('panic'
 * event, one warn/info line) and targets added or removed at runtime ('target' event, one info line,
 * which is also how an active checker learns about a new target).
 */
export function createPoolReporter (emitter: EventEmitter, log: FastifyBaseLogger): PoolReporter {
  return {
    panic (change) {
      emitter.emit('panic', change)
      const line = { upstream: change.upstream, panic: change.panic, available: change.available, eligible: change.eligible }
      if (change.panic) {
        log.warn(line, `lolly: upstream ${change.upstream} is in panic mode: ${change.available} of ${change.eligible} targets available, balancing over all of them`)
      } else {
        log.info(line, `lolly: upstream ${change.upstream} left panic mode: ${change.available} of ${change.eligible} targets available`)
      }
    },
    membership (change) {
      emitter.emit('target', change)
      log.info({ upstream: change.upstream, target: change.target, change: change.change },
        `lolly: ${change.target} was ${change.change} ${change.change === 'added' ? 'to' : 'from'} upstream ${change.upstream}`)
    }
  }
}
