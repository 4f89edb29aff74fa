import { test } from 'tap'
import { startGateway } from '../helpers/gateway.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'
import { closedPort, startUpstream, type Upstream } from '../helpers/upstreams.js'

// After `await app.close()` nothing of ours may be left: no timer (ejection, slow start, probe
// schedule, probe timeout; unref()ed ones included, they still fire), no connection to a target, no
// probe afterwards. The tracker sees every timer lib/ creates, which getActiveResourcesInfo() does not.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function connections (upstream: Upstream): Promise<number> {
  return new Promise((resolve, reject) => upstream.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
}

function activeOfKind (kinds: string[]): number {
  return process.getActiveResourcesInfo().filter((name) => kinds.includes(name)).length
}

test('with active checks, an ejection, a slow-start ramp and traffic, close() leaves nothing behind', async (t) => {
  const probes: string[] = []
  const handler = (name: string) => (req: { url?: string }, res: { end (body: string): void }) => {
    if (req.url === '/health') probes.push(name)
    res.end(name)
  }
  const a = await startUpstream('a', (req, res) => handler('a')(req, res))
  const b = await startUpstream('b', (req, res) => handler('b')(req, res))
  const dead = `http://127.0.0.1:${await closedPort()}`
  t.teardown(async () => { await a.close(); await b.close() })
  const baseline = activeOfKind(['TCPServerWrap', 'TCPSocketWrap', 'Timeout'])
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())

  const gateway = await startGateway({
    targets: [a.url, b.url, dead],
    passive: { maxFails: 1, ejectTime: 60_000, maxEjectedPercent: 100 },
    slowStart: 60_000,
    healthCheck: { interval: 20, timeout: 10, healthyThreshold: 1, unhealthyThreshold: 100, jitter: 0 }
  })
  const { app } = gateway
  for (let i = 0; i < 12; i++) await fetch(`${gateway.url}/r${i}`).then((res) => res.text())
  const deadTarget = app.lolly.targets.find((target) => target.url === dead)!
  t.equal(deadTarget.state, 'ejected', 'the dead target was ejected (an ejection timer is pending)')
  app.lolly.addTarget('default', `http://127.0.0.1:${await closedPort()}`)
  await sleep(60)
  t.ok(probes.length > 0, 'probes ran')
  t.ok(tracker.ours().length > 0, 'the tracker sees our timers while running (it can fail)')

  await app.close()
  t.same(tracker.ours(), [], 'no timer or socket created by lib/ is left')
  t.equal(await connections(a), 0, 'no connection to target a is left')
  t.equal(await connections(b), 0, 'no connection to target b is left')
  const probesAtClose = probes.length
  await sleep(100)
  t.equal(probes.length, probesAtClose, 'no probe ran after close (5 intervals later)')
  t.ok(activeOfKind(['TCPServerWrap', 'TCPSocketWrap', 'Timeout']) <= baseline, 'no server, socket or timer keeps the process alive')
})

test('close() while probes hang on a target that never answers returns at once and leaves nothing', async (t) => {
  const hanging = await startUpstream('hanging', () => { /* never answers, not even /health */ })
  t.teardown(() => hanging.close())
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const gateway = await startGateway({
    targets: [hanging.url],
    healthCheck: { interval: 10_000, timeout: 5_000, jitter: 0 }
  }, () => {})
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.same(hanging.hits.map((hit) => hit.url), ['/health'], 'the probe is in flight (the server never answers it)')
  const started = Date.now()
  await gateway.app.close()
  t.ok(Date.now() - started < 1000, `close() did not wait for the probe timeout (${Date.now() - started} ms)`)
  t.same(tracker.ours(), [], 'the probe timeout and the next probe\'s timer are gone')
  t.equal(await connections(hanging), 0, 'the probe\'s connection was closed')
})
