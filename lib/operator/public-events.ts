import diagnosticsChannel from 'node:diagnostics_channel'
import type { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import type { MembershipChange, PanicChange, PoolObserver, StateChange } from '../pool/pool-events.js'

/** Subscribers get every target state change: `diagnostics_channel.subscribe('lolly:target-state', fn)`. */
export const stateChannel = diagnosticsChannel.channel('lolly:target-state')
/** Subscribers get every target added or removed, at runtime or by discovery: `'lolly:target-membership'`. */
export const membershipChannel = diagnosticsChannel.channel('lolly:target-membership')

/**
 * The public side of every pool, its last observer: each change, once, as an event on `app.lolly`
 * ('state', 'panic', 'target'), a diagnostics channel message (state and membership changes) and one log line
 * (warn when a target stops taking traffic or the pool panics, info when it comes back). A listener
 * that throws (or whose promise rejects) is logged and skipped: it never unwinds into the undici
 * callback or the timer that made the change, and the listeners after it still run.
 */
export function publicObserver (emitter: EventEmitter, log: FastifyBaseLogger): PoolObserver {
  function emit (event: string, change: object): void {
    // rawListeners: `once` listeners are their wrappers, which remove themselves when called.
    for (const listener of emitter.rawListeners(event)) {
      try {
        const result = listener.call(emitter, change) as Promise<unknown> | undefined
        if (typeof result?.then === 'function') result.then(undefined, (err: unknown) => listenerFailed(event, err))
      } catch (err) {
        listenerFailed(event, err)
      }
    }
  }

  function listenerFailed (event: string, err: unknown): void {
    log.error({ err, event }, `lolly: an app.lolly '${event}' listener threw; the change stands and the other listeners ran`)
  }

  return {
    stateChanged (change: StateChange) {
      emit('state', change)
      if (stateChannel.hasSubscribers) stateChannel.publish(change)
      const line = { upstream: change.upstream, target: change.target, from: change.from, to: change.to, reason: change.reason }
      if (change.to === 'healthy') {
        log.info(line, `lolly: ${change.target} of upstream ${change.upstream} is taking traffic again (${change.reason})`)
      } else {
        log.warn(line, `lolly: ${change.target} of upstream ${change.upstream} is ${change.to} (${change.reason})`)
      }
    },
    panicChanged (change: PanicChange) {
      emit('panic', change)
      const line = { upstream: change.upstream, panicking: change.panicking, available: change.available, eligible: change.eligible }
      if (change.panicking) {
        log.warn(line, `lolly: upstream ${change.upstream} is in panic mode: ${change.available} of ${change.eligible} targets available, balancing over all of them`)
      } else {
        log.info(line, `lolly: upstream ${change.upstream} left panic mode: ${change.available} of ${change.eligible} targets available`)
      }
    },
    membershipChanged (change: MembershipChange) {
      emit('target', change)
      if (membershipChannel.hasSubscribers) membershipChannel.publish(change)
      const by = change.source === null ? '' : ` by ${change.source}`
      log.info({ upstream: change.upstream, target: change.target, change: change.change, source: change.source },
        `lolly: ${change.target} was ${change.change} ${change.change === 'added' ? 'to' : 'from'} upstream ${change.upstream}${by}`)
    }
  }
}
