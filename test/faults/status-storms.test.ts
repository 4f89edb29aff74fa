import { test } from 'tap'
import type { StateChange } from '../../lib/pool/pool-events.js'
import { runLoad } from '../helpers/fault-targets.js'
import { startGateway } from '../helpers/gateway.js'
import { closeLeavingNothing } from '../helpers/leak-check.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'
import { startUpstream, startUpstreams } from '../helpers/upstreams.js'

// A storm of 500s is the application's answer (one URL that throws), not a sick target: passing it
// on must never eject anything, or any client could take the pool down. A storm of 502s says the
// target is broken: it ejects, but never more than maxEjectedPercent of the pool.

test('a storm of 500s passes through and ejects nothing', async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const failing = await startUpstream('failing', (_req, res) => { res.statusCode = 500; res.end('boom') })
  const others = await startUpstreams(2)
  const gateway = await startGateway({ targets: [failing.url, ...others.map((u) => u.url)], passive: { maxFails: 2 } })
  t.teardown(async () => { await gateway.app.close(); await failing.close(); await Promise.all(others.map((u) => u.close())) })
  const changes: StateChange[] = []
  gateway.app.lolly.on('state', (change) => changes.push(change))

  let sent = 0
  const result = await runLoad(gateway.url, { concurrency: 6, until: () => sent++ >= 200 })
  t.same(changes, [], 'no state changed')
  t.ok(gateway.app.lolly.targets.every((target) => target.state === 'healthy'), 'every target is healthy')
  t.equal(result.outcomes['500'], failing.hits.length, 'each 500 reached the client as it was (not retried, not replaced)')
  t.ok(failing.hits.length >= 60, `the failing target kept its full share (${failing.hits.length} of 200)`)
  t.same(Object.keys(result.outcomes).sort(), ['200', '500'])
  t.equal(gateway.app.lolly.targets[0].failures, 0, '500 is not a target failure by default')
  await closeLeavingNothing(t, gateway.app, tracker)
})

test('a storm of 502s from three of four targets ejects two: maxEjectedPercent (50) holds', async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const bad = await startUpstreams(3, (_req, res) => { res.statusCode = 502; res.end('bad gateway behind the target') })
  const good = await startUpstream('good')
  const gateway = await startGateway({
    targets: [...bad.map((u) => u.url), good.url],
    passive: { maxFails: 3, ejectTime: 60_000, maxEjectedPercent: 50 }
  })
  t.teardown(async () => { await gateway.app.close(); await good.close(); await Promise.all(bad.map((u) => u.close())) })
  let ejected = 0
  let mostEjected = 0
  const changes: StateChange[] = []
  gateway.app.lolly.on('state', (change) => {
    changes.push(change)
    if (change.to === 'ejected') ejected++
    if (change.from === 'ejected') ejected--
    mostEjected = Math.max(mostEjected, ejected)
  })

  let sent = 0
  const result = await runLoad(gateway.url, { concurrency: 6, until: () => sent++ >= 200 })
  t.equal(mostEjected, 2, 'two targets were ejected, never more at once')
  t.same(changes.map((c) => c.to), ['ejected', 'ejected'], 'exactly two transitions: the cap refused the third')
  const states = gateway.app.lolly.targets.map((target) => target.state)
  t.same(states.slice(0, 3).sort(), ['ejected', 'ejected', 'healthy'], 'one bad target stays in')
  t.equal(states[3], 'healthy', 'the good target was never touched')
  t.same(Object.keys(result.outcomes).filter((k) => k !== '200' && k !== '502'), [], 'clients saw 200s and (failover exhausted) 502s only')
  t.ok((result.outcomes['200'] ?? 0) > 100, `failover to the good target served most requests (${result.outcomes['200']} of 200)`)
  await closeLeavingNothing(t, gateway.app, tracker)
})
