import { test } from 'tap'
import { Pool } from 'undici'
import { startSwitchableTarget } from '../helpers/fault-targets.js'
import { eventually, inflight, startGateway } from '../helpers/gateway.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'

// Every target goes down, then every target comes back, under steady traffic. While they are down
// clients get an immediate 503 with Retry-After (not a connect attempt each, not a hang); once they
// are back everything recovers without anyone touching the gateway.

interface Seen { at: number, outcome: string, ms: number, retryAfter: string | undefined }

test('all targets down: fast 503s with Retry-After; all back: full recovery; no request hangs', async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const targets = [await startSwitchableTarget('a'), await startSwitchableTarget('b')]
  const gateway = await startGateway({
    targets: targets.map((target) => target.url),
    // Two failed probes in a row (a refused connection fails at once), one pass to come back.
    healthCheck: { interval: 150, unhealthyInterval: 150, timeout: 100, unhealthyThreshold: 2, healthyThreshold: 1, jitter: 0 }
  })
  t.teardown(async () => { await Promise.all(targets.map((target) => target.close())) })
  const { app } = gateway

  const seen: Seen[] = []
  const run = { stopped: false }
  const client = new Pool(gateway.url, { connections: 4, headersTimeout: 3000, bodyTimeout: 3000 })
  const load = Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = 0; !run.stopped; i++) {
      const started = Date.now()
      try {
        const res = await client.request({ path: `/r${i}`, method: 'GET' })
        const body = await res.body.text()
        const code = res.statusCode === 200 ? '' : ` ${(JSON.parse(body) as { code: string }).code}`
        seen.push({ at: started, outcome: `${res.statusCode}${code}`, ms: Date.now() - started, retryAfter: res.headers['retry-after'] as string | undefined })
      } catch (err) {
        seen.push({ at: started, outcome: (err as { code?: string }).code ?? 'error', ms: Date.now() - started, retryAfter: undefined })
      }
    }
  }))
  // The next `count` requests started from now on, once they have completed.
  const window = async (count: number) => {
    const from = Date.now()
    const started = () => seen.filter((s) => s.at >= from)
    await eventually(() => started().length >= count, 3000)
    return started()
  }

  t.same(new Set((await window(10)).map((s) => s.outcome)), new Set(['200']), 'all up: 200s')

  await Promise.all(targets.map((target) => target.stop()))
  t.ok(await eventually(() => app.lolly.targets.every((target) => !target.available), 3000), 'every target was taken out')
  const down = await window(20)
  t.ok(down.length >= 20, `requests kept coming while everything was down (${down.length})`)
  t.same(new Set(down.map((s) => s.outcome)), new Set(['503 FST_LOLLY_NO_AVAILABLE_TARGET']), 'all down: 503 No available target')
  t.ok(down.every((s) => s.retryAfter === '1'), 'each with Retry-After')
  t.ok(down.every((s) => s.ms < 100), `each answered at once (slowest ${Math.max(...down.map((s) => s.ms))} ms)`)

  const requestsWhileDown = targets.map((target) => target.requests)
  await Promise.all(targets.map((target) => target.start()))
  t.ok(await eventually(() => app.lolly.targets.every((target) => target.available), 3000), 'every target came back')
  const back = await window(20)
  t.same(new Set(back.map((s) => s.outcome)), new Set(['200']), 'all back: 200s only')
  t.ok(targets.every((target, i) => target.requests > requestsWhileDown[i]), 'both targets take traffic again')

  run.stopped = true
  await load
  await client.close()
  const outcomes = new Set(seen.map((s) => s.outcome))
  t.same([...outcomes].filter((o) => !['200', '502 FST_LOLLY_BAD_GATEWAY', '503 FST_LOLLY_NO_AVAILABLE_TARGET'].includes(o)), [],
    'nothing but 200, 502 (before the checks noticed) and 503 over the whole run')
  t.ok(seen.every((s) => s.ms < 1000), `no request hung (slowest ${Math.max(...seen.map((s) => s.ms))} ms)`)
  t.ok(await eventually(() => inflight(app) === 0), 'nothing in flight')
  await app.close()
  t.same(tracker.ours(), [], 'no timer of ours is left')
})
