import diagnosticsChannel from 'node:diagnostics_channel'
import type { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import type { StateChange } from './upstream-pool.js'

/** Subscribers get every target state change: `diagnostics_channel.subscribe('lolly:target-state', fn)`. */
export const stateChannel = diagnosticsChannel.channel('lolly:target-state')

/**
 * Tells the world a target changed state, once per transition: an event on `app.lolly`, a message
 * on the diagnostics channel, and one log line (warn when the target stops taking traffic, info
 * when it comes back). Nothing here runs per request or per probe.
 */
export function createStateReporter (emitter: EventEmitter, log: FastifyBaseLogger): (change: StateChange) => void {
  return (change) => {
    emitter.emit('state', change)
    if (stateChannel.hasSubscribers) stateChannel.publish(change)
    const line = { upstream: change.upstream, target: change.target, from: change.from, to: change.to, reason: change.reason }
    if (change.to === 'healthy') {
      log.info(line, `lolly: ${change.target} of upstream ${change.upstream} is taking traffic again (${change.reason})`)
    } else {
      log.warn(line, `lolly: ${change.target} of upstream ${change.upstream} is ${change.to} (${change.reason})`)
    }
  }
}
