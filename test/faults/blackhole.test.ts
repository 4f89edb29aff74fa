import { existsSync } from 'node:fs'
import path from 'node:path'
import { test } from 'tap'
import { makeNetns, runInNetns, skipReason } from '../helpers/netns.js'

// Hosts that vanish: every packet to and from a target dropped by nftables (no RST, so a connect
// waits its whole timeout and a request already written waits for an answer that never comes),
// inside a network namespace each test makes. Targets on 127.0.0.2-4, the gateway (the built
// package) on 127.0.0.1, the load generator too: fixtures/blackhole-scenario.js. What is asserted is
// what clients see. The figures go to the test's comments; the README's Faults table quotes them.

const SCENARIO = path.join(__dirname, 'fixtures', 'blackhole-scenario.js')
const reason = skipReason()
if (reason === undefined && !existsSync(path.join(__dirname, '..', '..', 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first')

// undici checks connect timeouts on a 500 ms tick: a 2 s timeout fires after 2 to 2.5 s.
const TICK = 500

interface Summary { requests: number, errors: Record<string, number>, p50: number, p99: number, max: number }
interface Change { target: string, from: string, to: string, reason: string }

test('blackholed targets: one under load and lifted; idle, with and without probes; all of them', { skip: reason }, async (t) => {
  // Four namespaces at once: three of the scenarios wait more than they work.
  const [run, withProbes, withoutProbes, all] = await Promise.all([
    runInNetns(makeNetns(t), SCENARIO, { scenario: 'load', concurrency: 20, holdMs: 4000, options: { passive: { ejectTime: 2000 } } }),
    runInNetns(makeNetns(t), SCENARIO, {
      scenario: 'idle',
      trafficMs: 1000,
      options: { healthCheck: { interval: 300, timeout: 250, jitter: 0 } }
    }),
    runInNetns(makeNetns(t), SCENARIO, { scenario: 'idle', trafficMs: 3000, waitOutMs: 300, waitBackMs: 0, options: {} }),
    runInNetns(makeNetns(t), SCENARIO, {
      scenario: 'all',
      concurrency: 10,
      // Longer than three tries take, so that requests fail while every target is gone.
      holdMs: 7000,
      options: { connectTimeout: 1000, responseTimeout: 1500, passive: { ejectTime: 1000 } }
    })
  ])

  t.test('a target blackholed under load: no GET fails, the slowest waits one connectTimeout, it is out in one; lifted, it comes back', async (t) => {
    const { during, after } = run as { during: Summary, after: Summary }
    t.comment(`during: ${JSON.stringify(during)}; out after ${run.outAfter} ms, ${run.requestsWhileIn} requests reached it meanwhile; back ${run.backAfterLift} ms after the lift`)
    t.same(during.errors, {}, `no client error in ${during.requests} requests`)
    t.ok(during.requests > 200, 'traffic flowed through the blackhole')
    t.ok(during.max <= 2000 + TICK + 2000, `the slowest request took ${during.max} ms: one connectTimeout (2 s) and one try`)
    t.ok(run.outAfter <= 2000 + TICK + 2000, `ejected ${run.outAfter} ms after the drop`)
    t.ok(run.requestsWhileIn <= 60, `${run.requestsWhileIn} requests went to it before it was out (20 clients)`)
    t.match((run.changes as Change[]).map((change) => [change.target.split(':')[1], change.from, change.to]), [['//127.0.0.3', 'healthy', 'ejected'], ['//127.0.0.3', 'ejected', 'healthy']])
    t.match(run.changes[0].reason, /UND_ERR_CONNECT_TIMEOUT/)
    t.ok(run.backAfterLift < 5000 && run.requestsAfterBack > 0, 'lifted, it takes traffic again when its ejection ends')
    t.same(after.errors, {})
    t.equal(run.inflightAtEnd, 0)
  })

  t.test('probes find the vanished target before traffic does', async (t) => {
    t.comment(JSON.stringify({ outAfter: withProbes.outAfter, during: withProbes.during, back: withProbes.backAfterLift }))
    // Three probes time out (unhealthyThreshold 3), one every 300 ms, each after 250 ms.
    t.ok(withProbes.outAfter !== null && withProbes.outAfter <= 3 * 300 + 250 + 1000, `unhealthy ${withProbes.outAfter} ms after the drop`)
    t.match(withProbes.changes[0], { to: 'unhealthy', reason: /timeout/ })
    t.equal(withProbes.requestsToDead, 0, 'no request went to it')
    t.same(withProbes.during.errors, {})
    t.ok(withProbes.during.max < 1000, `slowest request ${withProbes.during.max} ms`)
    t.equal(withProbes.state, 'healthy', `lifted, two passing probes bring it back (${withProbes.backAfterLift} ms)`)
  })

  t.test('without probes, traffic finds it: no GET fails, none waits more than two connectTimeouts', async (t) => {
    const { during } = withoutProbes as { during: Summary }
    t.comment(JSON.stringify({ during, requestsToDead: withoutProbes.requestsToDead, changes: withoutProbes.changes }))
    t.same(during.errors, {}, `no client error in ${during.requests} requests`)
    // A request queued behind connects that time out waits for the ejection (five timeouts, so
    // two rounds of connects at low traffic), then moves on.
    t.ok(during.max <= 2 * (2000 + TICK) + 1000, `the slowest request took ${during.max} ms`)
    t.match(withoutProbes.changes, [{ to: 'ejected', reason: /UND_ERR_CONNECT_TIMEOUT/ }])
  })

  t.test('all targets blackholed: clients get 502/503/504 within the tries\' timeouts, never a hang; lifted, the pool recovers', async (t) => {
    const { during, afterRecovery } = all as { during: Summary, afterRecovery: Summary }
    t.comment(JSON.stringify({ during, afterRecovery, back: all.backAfterLift }))
    t.ok(Object.keys(during.errors).length > 0, `requests failed while every target was gone: ${JSON.stringify(during.errors)}`)
    t.ok(Object.keys(during.errors).every((status) => ['502', '503', '504'].includes(status)), 'with a proxy\'s statuses')
    // Three tries (attempts 2), each bounded by responseTimeout (1.5 s) or connectTimeout (1 s).
    t.ok(during.max <= 3 * (1500 + TICK) + 1000, `the slowest request took ${during.max} ms`)
    t.same(afterRecovery.errors, {}, 'after the lift every request succeeds again')
    t.ok(afterRecovery.requests > 100)
    t.equal(all.inflightAtEnd, 0)
  })
})
