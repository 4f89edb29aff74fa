import diagnosticsChannel from 'node:diagnostics_channel'
import FakeTimers from '@sinonjs/fake-timers'
import type { FastifyInstance } from 'fastify'
import type { CheckResult } from '../../lib/pool/target.js'

type Clock = ReturnType<typeof FakeTimers.install>

// Helpers for active health tests: fake time for the schedule, real sockets for the probes.
// setImmediate stays real, so waiting on it lets real I/O happen while the fake clock stands still.

/** Fakes setTimeout, clearTimeout and Date from 0; the caller uninstalls it. */
export function installClock (): Clock {
  return FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 })
}

/** Lets real I/O run until `condition` holds; fails after ~2 s of real time. */
export async function waitFor (condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 2000
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Lets real I/O run for `ms` of real time (to show that nothing happens). */
export async function idle (ms: number): Promise<void> {
  const until = performance.now() + ms
  while (performance.now() < until) await new Promise((resolve) => setImmediate(resolve))
}

export function lastCheck (app: FastifyInstance, index = 0, upstream = 'default'): CheckResult | null {
  return app.lolly.upstreams[upstream].targets[index].lastCheck
}

/** Advances the fake clock by `ms` and waits until target `index` has a new probe result. */
export async function nextProbe (clock: Clock, app: FastifyInstance, ms: number, index = 0): Promise<CheckResult> {
  const before = lastCheck(app, index)
  await clock.tickAsync(ms)
  await waitFor(() => lastCheck(app, index) !== before, `probe result of target ${index}`)
  return lastCheck(app, index)!
}

/**
 * Records every HTTP request undici creates, with the fake time it was created at: probes start
 * synchronously in their timer, so this is the probe's exact start time.
 */
export function recordRequests (): { starts: Array<{ origin: string, path: string, at: number }>, stop: () => void } {
  const starts: Array<{ origin: string, path: string, at: number }> = []
  const channel = diagnosticsChannel.channel('undici:request:create')
  const onCreate = (message: unknown): void => {
    const { request } = message as { request: { origin: string, path: string } }
    starts.push({ origin: request.origin, path: request.path, at: Date.now() })
  }
  channel.subscribe(onCreate)
  return { starts, stop: () => channel.unsubscribe(onCreate) }
}
