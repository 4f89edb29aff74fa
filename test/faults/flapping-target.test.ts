import { test } from 'tap'
import type { StateChange } from '../../lib/pool/pool-events.js'
import { runLoad, startSwitchableTarget } from '../helpers/fault-targets.js'
import { startGateway } from '../helpers/gateway.js'
import { closeLeavingNothing } from '../helpers/leak-check.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'
import { startUpstream } from '../helpers/upstreams.js'

// A target that is up for 100 ms, down for 100 ms, over and over. Without hysteresis its state would
// follow every flip; ejections that double while it keeps failing (and a probation that re-ejects
// it on its first failure back) keep it out most of the time, with far fewer transitions than flips.

const FLIP_MS = 100
const RUN_MS = 1500

function ejectionMs (reason: string): number {
  const match = /ejected for (\d+(?:\.\d+)?)(ms|s)/.exec(reason)
  return match === null ? NaN : Number(match[1]) * (match[2] === 's' ? 1000 : 1)
}

test('a flapping target: few transitions, growing ejections, no client error, nothing left', async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const flapping = await startSwitchableTarget('flapping')
  const steady = await startUpstream('steady')
  const gateway = await startGateway({
    targets: [flapping.url, steady.url],
    passive: { maxFails: 2, failWindow: 1000, ejectTime: FLIP_MS, maxEjectTime: 16 * FLIP_MS }
  })
  let flips = 0
  const run = { stopped: false }
  const flipper = (async () => {
    while (!run.stopped) {
      await new Promise((resolve) => setTimeout(resolve, FLIP_MS))
      if (run.stopped) break
      if (flapping.up) await flapping.stop()
      else await flapping.start()
      flips++
    }
  })()
  t.teardown(async () => { run.stopped = true; await flipper; await gateway.app.close(); await flapping.close(); await steady.close() })
  const changes: StateChange[] = []
  gateway.app.lolly.on('state', (change) => { if (change.target === flapping.url) changes.push(change) })

  const until = Date.now() + RUN_MS
  const result = await runLoad(gateway.url, { concurrency: 4, until: () => Date.now() > until })
  run.stopped = true
  await flipper

  const ejections = changes.filter((c) => c.to === 'ejected').map((c) => ejectionMs(c.reason))
  t.comment(`${flips} flips, ${changes.length} transitions, ejections of ${ejections.join(', ')} ms; clients: ${JSON.stringify(result.outcomes)}`)
  t.same(Object.keys(result.outcomes), ['200'], 'every GET succeeded: failover hid every flip')
  t.ok(ejections.length >= 1, 'the flapping target was ejected')
  t.ok(changes.length < flips, `fewer transitions (${changes.length}) than flips (${flips})`)
  t.ok(ejections.some((ms) => ms > FLIP_MS), `ejections grew past ejectTime while it kept failing (${ejections.join(', ')})`)
  for (let i = 1; i < changes.length; i++) t.not(changes[i].from, changes[i].to)
  for (let i = 1; i < changes.length; i++) t.equal(changes[i].from, changes[i - 1].to, 'each transition starts where the last ended (one writer)')
  t.ok(result.slowestMs < 1000, `no request hung (slowest ${result.slowestMs} ms)`)
  await closeLeavingNothing(t, gateway.app, tracker)
})
