import { test, type Test } from 'tap'
import type { StateChange } from '../../lib/pool/pool-events.js'
import { onRequestHeads, runLoad, startRawTarget } from '../helpers/fault-targets.js'
import { eventually, inflight, startGateway } from '../helpers/gateway.js'
import { closeLeavingNothing } from '../helpers/leak-check.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'
import { startUpstream } from '../helpers/upstreams.js'

// Targets that misbehave at the byte level: one that never answers, one that answers too late, one
// that breaks off in the middle of a response, one that resets every third connection. Each test
// checks what the clients saw, what the pool says, and that nothing is left in flight.

const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'

test('a target that accepts connections and never answers: timed out, failed over, ejected, then skipped at once', async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const blackHole = await startRawTarget((socket) => socket.resume())
  const good = await startUpstream('good')
  const gateway = await startGateway({ targets: [blackHole.url, good.url], responseTimeout: 50, passive: { maxFails: 2, ejectTime: 60_000 } })
  t.teardown(async () => { await gateway.app.close(); await blackHole.close(); await good.close() })
  const changes: StateChange[] = []
  gateway.app.lolly.on('state', (change) => changes.push(change))

  let sent = 0
  const result = await runLoad(gateway.url, { concurrency: 1, until: () => sent++ >= 20 })
  t.same(result.outcomes, { 200: 20 }, 'every client got its answer from the good target')
  t.same(changes.map((c) => [c.target, c.to]), [[blackHole.url, 'ejected']], 'the black hole was ejected, once')
  t.equal(blackHole.connections, 2, 'it cost two timeouts (maxFails), then no more connections')
  const fast = Date.now()
  const after = await runLoad(gateway.url, { concurrency: 1, until: () => sent++ >= 26 })
  t.same(after.outcomes, { 200: 5 })
  t.ok(Date.now() - fast < 400, `requests no longer wait for the black hole's timeout (${Date.now() - fast} ms for 5)`)
  await closeLeavingNothing(t, gateway.app, tracker)
})

// undici runs headersTimeout on its coarse timers (about a second of resolution), so a 50 ms
// responseTimeout fires within a second; the target answers the moment the proxy gives up on it,
// which is the latest "too late" there is, without the test waiting two seconds for it.
test('a target that answers after the response timeout: 504, and the late answer harms nothing', async (t) => {
  let lateAnswers = 0
  const late = await startUpstream('late', (req, res) => {
    req.socket.once('close', () => { lateAnswers++; res.end('too late') })
  })
  const gateway = await startGateway({ targets: [late.url], responseTimeout: 50 })
  t.teardown(async () => { await gateway.app.close(); await late.close() })
  const started = Date.now()
  const res = await fetch(`${gateway.url}/x`)
  t.equal(res.status, 504)
  t.equal(((await res.json()) as { code: string }).code, 'FST_LOLLY_GATEWAY_TIMEOUT')
  t.ok(Date.now() - started < 1500, `answered at the timeout (${Date.now() - started} ms)`)
  t.ok(await eventually(() => lateAnswers === 1), 'the target answered after the proxy had given up')
  t.equal(late.hits.length, 1, 'the lone target was tried once (no retry on itself)')
  t.equal(inflight(gateway.app), 0, 'the late answer left nothing in flight')
  t.equal(gateway.app.lolly.targets[0].failures, 1)
  const again = await fetch(`${gateway.url}/y`)
  t.equal(again.status, 504, 'the gateway still works (and still times out)')
})

test('a target that sends half a response and closes: 502 before the headers, a cut body after them', async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  let mode: 'half-head' | 'half-body' | 'stalled-body' | 'ok' = 'half-head'
  const broken = await startRawTarget((socket) => onRequestHeads(socket, () => {
    if (mode === 'half-head') socket.end('HTTP/1.1 200 OK\r\nContent-Le')
    else if (mode === 'half-body') socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')
    else if (mode === 'stalled-body') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789')
    else socket.end(OK_RESPONSE)
  }))
  // bodyTimeout runs on undici's coarse timers too: 50 ms fires within about a second.
  const gateway = await startGateway({ targets: [broken.url], passive: false, bodyTimeout: 50 })
  t.teardown(async () => { await gateway.app.close(); await broken.close() })

  const head = await fetch(`${gateway.url}/a`)
  t.equal(head.status, 502, 'half a head: 502')
  t.equal(((await head.json()) as { code: string }).code, 'FST_LOLLY_BAD_GATEWAY')

  mode = 'half-body'
  const body = await fetch(`${gateway.url}/b`)
  t.equal(body.status, 200, 'half a body: the status had already gone to the client')
  await t.rejects(body.text(), 'and the client sees the body break off, not a short body passed off as whole')
  t.ok(await eventually(() => inflight(gateway.app) === 0), 'nothing in flight')
  t.equal(gateway.app.lolly.targets[0].failures, 2, 'both count as target failures')

  mode = 'stalled-body'
  const stalled = await fetch(`${gateway.url}/s`)
  t.equal(stalled.status, 200)
  await t.rejects(stalled.text(), 'a body that stops coming is cut at bodyTimeout, not waited on forever')
  t.ok(await eventually(() => inflight(gateway.app) === 0), 'nothing in flight')
  t.equal(gateway.app.lolly.targets[0].failures, 3, 'a stalled body counts too')

  mode = 'ok'
  const fine = await fetch(`${gateway.url}/c`)
  t.equal(await fine.text(), 'ok', 'the next request is fine (no poisoned connection)')
  await closeLeavingNothing(t, gateway.app, tracker)
})

/** 45 GETs in a row over a target that resets every third connection and a good one. */
async function splitWithResets (t: Test, passive: false | { maxFails: number, ejectTime: number }) {
  const resetting = await startRawTarget((socket, index) => onRequestHeads(socket, () => {
    if (index % 3 === 2) socket.resetAndDestroy()
    else socket.end(OK_RESPONSE)
  }))
  const good = await startUpstream('good')
  const gateway = await startGateway({ targets: [resetting.url, good.url], passive })
  t.teardown(async () => { await gateway.app.close(); await resetting.close(); await good.close() })
  let sent = 0
  const result = await runLoad(gateway.url, { concurrency: 1, until: () => sent++ >= 45 })
  const [bad] = gateway.app.lolly.targets
  return { result, resettingShare: bad.requests, goodShare: good.hits.length, state: bad.state }
}

test('a target that resets every third connection: failover hides it, and passive health shifts the split away', async (t) => {
  const without = await splitWithResets(t, false)
  t.same(without.result.outcomes, { 200: 45 }, 'without passive health every GET still succeeds (failover)')
  t.ok(without.resettingShare >= 18, `and the resetting target keeps about half the picks (${without.resettingShare} of 45 + retries)`)

  // Like nginx's max_fails: after maxFails failures it is out for ejectTime, and the good target takes it all.
  const withPassive = await splitWithResets(t, { maxFails: 3, ejectTime: 60_000 })
  t.same(withPassive.result.outcomes, { 200: 45 }, 'with passive health too, every GET succeeds')
  t.equal(withPassive.state, 'ejected')
  t.ok(withPassive.resettingShare <= 9, `the resetting target got only the picks until its third failure (${withPassive.resettingShare})`)
  t.ok(withPassive.goodShare >= 39, `the good one took the rest (${withPassive.goodShare})`)
})
