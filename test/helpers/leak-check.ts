import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { eventually, inflight } from './gateway.js'
import type { ResourceTracker } from './resource-tracker.js'

/**
 * The end of a fault test: nothing in flight, then `app.close()`, then no timer or socket that lib/
 * created is still alive. Closing twice is harmless, so a teardown that closes again is fine.
 */
export async function closeLeavingNothing (t: Test, app: FastifyInstance, tracker: ResourceTracker): Promise<void> {
  t.ok(await eventually(() => inflight(app) === 0), 'nothing in flight')
  await app.close()
  t.same(tracker.ours(), [], 'after close no timer or socket of ours is left')
}
