import { test } from 'tap'
import type { ServerResponse } from 'node:http'
import { Pool } from 'undici'
import { eventually, inflight, startGateway } from '../helpers/gateway.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'
import { startUpstreams } from '../helpers/upstreams.js'

// app.close() while requests are in flight: by default (forceCloseConnections 'idle') they complete
// and close() waits for them; with forceCloseConnections: true the client connections are cut, and
// close() must then not wait for targets that may never answer. Either way nothing is left after.

const IN_FLIGHT = 20

async function heldUpstreams () {
  const held: ServerResponse[] = []
  const upstreams = await startUpstreams(2, (req, res) => {
    if (req.url === '/health') res.end('ok')
    else held.push(res)
  })
  const release = () => { for (const res of held.splice(0)) res.end('done') }
  return { upstreams, held, release }
}

test('default: requests in flight at close() complete, then close() resolves and nothing is left', async (t) => {
  const { upstreams, held, release } = await heldUpstreams()
  t.teardown(() => Promise.all(upstreams.map((u) => u.close())))
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const gateway = await startGateway({
    targets: upstreams.map((u) => u.url),
    healthCheck: { interval: 1000, timeout: 500, jitter: 0 }
  })
  const client = new Pool(gateway.url, { connections: IN_FLIGHT })
  t.teardown(() => client.destroy())

  const responses = Array.from({ length: IN_FLIGHT }, (_, i) =>
    client.request({ path: `/r${i}`, method: 'GET' }).then(async (res) => [res.statusCode, await res.body.text()]))
  t.ok(await eventually(() => held.length === IN_FLIGHT), 'every request reached a target')
  t.equal(inflight(gateway.app), IN_FLIGHT)

  let closed = false
  const closing = gateway.app.close().then(() => { closed = true })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.notOk(closed, 'close() waits for the requests in flight')
  release()
  const results = await Promise.all(responses)
  t.same(results, Array.from({ length: IN_FLIGHT }, () => [200, 'done']), 'every request in flight completed normally')
  // Node's server.close() then waits for the client to close its keep-alive connections (Fastify's
  // 'idle' only closes those idle at the moment of close()); a well-behaved client does.
  await client.close()
  await closing
  t.equal(inflight(gateway.app), 0)
  t.same(tracker.ours(), [], 'no timer of ours is left')
})

test('forceCloseConnections: true cuts the clients, and close() does not wait for targets that never answer', async (t) => {
  const { upstreams, held, release } = await heldUpstreams()
  t.teardown(async () => { release(); await Promise.all(upstreams.map((u) => u.close())) })
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const gateway = await startGateway({ targets: upstreams.map((u) => u.url) }, undefined, { forceCloseConnections: true })
  const client = new Pool(gateway.url, { connections: IN_FLIGHT })
  t.teardown(() => client.destroy())

  const outcomes = Array.from({ length: IN_FLIGHT }, (_, i) =>
    client.request({ path: `/r${i}`, method: 'GET' }).then((res) => res.statusCode, (err: Error & { code?: string }) => err.code ?? err.name))
  t.ok(await eventually(() => held.length === IN_FLIGHT), 'every request reached a target')

  const started = Date.now()
  const closing = gateway.app.close()
  const cut = await Promise.all(outcomes)
  t.ok(cut.every((outcome) => outcome === 'UND_ERR_SOCKET'), 'every client connection was cut')
  const settled = await Promise.race([closing.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2000))])
  t.equal(settled, 'closed', `close() returned without waiting for the targets (responseTimeout is 30 s; took ${Date.now() - started} ms)`)
  release()
  await closing
  t.ok(await eventually(() => inflight(gateway.app) === 0), 'in-flight back to 0')
  t.same(tracker.ours(), [], 'no timer of ours is left')
})

test('close() while a request waits out its retry backoff: the retry never fires afterwards', async (t) => {
  const { upstreams, held, release } = await heldUpstreams()
  t.teardown(async () => { release(); await Promise.all(upstreams.map((u) => u.close())) })
  const resets: number[] = []
  const resetting = await startUpstreams(1, (req) => { resets.push(Date.now()); req.socket.destroy() })
  t.teardown(() => resetting[0].close())
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  // The first pick (round robin) is the resetting target; its failure is retried after a backoff
  // of up to 2 s (random: full jitter), during which the app closes and cuts the client.
  const gateway = await startGateway({
    targets: [resetting[0].url, ...upstreams.map((u) => u.url)],
    retry: { backoff: 2000 },
    passive: false
  }, undefined, { forceCloseConnections: true })
  const outcome = fetch(`${gateway.url}/r`).then((res) => res.status, (err: Error) => err.name)
  t.ok(await eventually(() => resets.length === 1), 'the first try failed')
  await gateway.app.close()
  t.not(await outcome, 200, 'the client was cut (or answered with an error), not served after close')
  const retriedAt = held.length
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(tracker.ours(), [], 'no backoff timer of ours is left')
  t.equal(held.length, retriedAt, 'no retry reached a target after close')
  t.equal(inflight(gateway.app), 0)
})
