import { test } from 'tap'
import fc from 'fast-check'
import Fastify from 'fastify'
import lolly from '../../lib/index.js'
import { validOptions } from '../helpers/option-arbitraries.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'

// Any valid configuration registers, starts (active checks included) and closes cleanly, leaving
// no timer behind, and the pools it builds are the ones it describes.

type Target = string | { url: string, down?: boolean }

function expectedTargets (options: Record<string, unknown>): Array<{ upstream: string, down: boolean, checked: unknown }> {
  const out: Array<{ upstream: string, down: boolean, checked: unknown }> = []
  const add = (upstream: string, targets: Target[], checked: unknown) => {
    for (const target of targets) out.push({ upstream, down: typeof target !== 'string' && target.down === true, checked })
  }
  if (options.targets !== undefined) {
    add('default', options.targets as Target[], options.healthCheck)
  } else {
    for (const [name, upstream] of Object.entries(options.upstreams as Record<string, Record<string, unknown>>)) {
      add(name, upstream.targets as Target[], upstream.healthCheck ?? options.healthCheck)
    }
  }
  return out
}

function initiallyUnhealthy (check: unknown): boolean {
  return typeof check === 'object' && check !== null && (check as { initialState?: string }).initialState === 'unhealthy'
}

test('valid options always register, start and close cleanly', async (t) => {
  const tracker = new ResourceTracker(['Timeout']).start()
  t.teardown(() => tracker.stop())
  let runs = 0
  await fc.assert(fc.asyncProperty(validOptions, async (options) => {
    runs++
    const app = Fastify()
    try {
      await app.register(lolly, options)
      app.get('/*', (_req, reply) => reply.from())
      await app.ready()
      const expected = expectedTargets(options)
      const snapshots = app.lolly.targets
      if (snapshots.length !== expected.length) throw new Error(`${snapshots.length} targets for ${expected.length} configured`)
      snapshots.forEach((snapshot, i) => {
        const want = expected[i]
        if (snapshot.upstream !== want.upstream) throw new Error(`target ${i} is in ${snapshot.upstream}, not ${want.upstream}`)
        // An upstream-level `healthCheck` object merges over a top-level one; only its own initialState is read here.
        const state = want.down ? 'disabled' : initiallyUnhealthy(want.checked) ? 'unhealthy' : undefined
        if (state !== undefined && snapshot.state !== state) throw new Error(`target ${i} is ${snapshot.state}, not ${state}`)
      })
    } finally {
      await app.close()
    }
    const left = tracker.ours()
    if (left.length > 0) throw new Error(`timers left after close: ${left.map((r) => r.createdAt).join('; ')}`)
  }), { numRuns: 200 })
  t.equal(runs, 200)
})
