import { test } from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Pool } from 'undici'
import { eventually, inflight, startGateway } from '../helpers/gateway.js'
import { startUpstreams } from '../helpers/upstreams.js'

// Clients that go away at any point (before the answer, in the middle of its body) must not leave
// anything behind: every in-flight count returns to 0, and every request object can be collected.
// The WeakRef count is exact where a heap-size bound is only a guard; both are checked.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const TOTAL = 5_000
const CONCURRENCY = 100
const HEAP_GROWTH_BOUND = 16 * 1024 * 1024
const CHUNK = Buffer.alloc(1024, 'x')

async function collect (): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

// A fixed sequence, so a failure can be replayed: same requests, same abort points.
function random (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state / 0x7fffffff
  }
}

test(`${TOTAL} requests, a third aborted at random points: in-flight back to 0, nothing retained`, async (t) => {
  const upstreams = await startUpstreams(3, (req, res) => {
    const kind = req.url!.split('/')[1]
    if (kind === 'slow') {
      setTimeout(() => res.end(CHUNK), 1 + (req.url!.length % 5))
    } else if (kind === 'stream') {
      res.write(CHUNK)
      let left = 4
      const next = () => { if (--left === 0) res.end(CHUNK); else { res.write(CHUNK); setImmediate(next) } }
      setImmediate(next)
    } else {
      res.end(CHUNK)
    }
  })
  const refs: Array<WeakRef<object>> = []
  const gateway = await startGateway({ targets: upstreams.map((u) => u.url), passive: false }, (app) => {
    app.addHook('onRequest', async (request) => { refs.push(new WeakRef(request)) })
    app.get('/*', (_req, reply) => reply.from())
  })
  const client = new Pool(gateway.url, { connections: CONCURRENCY })
  t.teardown(async () => {
    await client.close()
    await gateway.app.close()
    await Promise.all(upstreams.map((u) => u.close()))
  })

  const next = random(42)
  const outcomes = { completed: 0, abortedBeforeHeaders: 0, abortedInBody: 0, otherErrors: 0 }
  // A request aborted by its timer may still complete first; one aborted in its body may have had it all.
  async function one (i: number): Promise<void> {
    const kind = ['fast', 'slow', 'stream'][i % 3]
    const roll = next()
    const controller = new AbortController()
    const abortEarly = roll < 0.15
    const abortInBody = roll >= 0.15 && roll < 0.33
    if (abortEarly) setTimeout(() => controller.abort(), Math.floor(next() * 3))
    try {
      const res = await client.request({ path: `/${kind}/${i}`, method: 'GET', signal: controller.signal })
      if (abortInBody) {
        // Abort after the first chunk: the gateway is in the middle of streaming the body to us.
        for await (const chunk of res.body) if (chunk.length > 0) controller.abort()
      } else {
        await res.body.dump({ limit: Infinity })
      }
      outcomes.completed++
    } catch (err) {
      const name = (err as Error).name
      if (name === 'AbortError' || (err as { code?: string }).code === 'UND_ERR_ABORTED') {
        if (abortEarly) outcomes.abortedBeforeHeaders++
        else outcomes.abortedInBody++
      } else {
        outcomes.otherErrors++
      }
    }
  }
  async function run (from: number, to: number): Promise<void> {
    let i = from
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (i < to) await one(i++)
    }))
  }

  await run(0, 500)
  t.ok(await eventually(() => inflight(gateway.app) === 0, 5000), 'warm-up drained')
  await collect()
  const heapBefore = process.memoryUsage().heapUsed
  refs.length = 0

  const started = Date.now()
  await run(500, TOTAL)
  const elapsed = Date.now() - started
  t.comment(`${TOTAL - 500} requests in ${elapsed} ms: ${JSON.stringify(outcomes)}`)
  t.equal(outcomes.otherErrors, 0, 'no request failed for another reason than its own abort')
  t.ok(outcomes.abortedBeforeHeaders + outcomes.abortedInBody > 1000, 'aborts really happened')

  t.ok(await eventually(() => inflight(gateway.app) === 0, 5000), 'every in-flight count returned to 0')
  for (const target of gateway.app.lolly.targets) {
    t.equal(target.inflight, 0, `${target.url}: in-flight 0`)
    t.equal(target.state, 'healthy', `${target.url}: client aborts did not make it look unhealthy`)
    t.equal(target.failures, 0, `${target.url}: client aborts were not charged as failures`)
  }
  t.equal(inflight(gateway.app), 0, 'the pool\'s own count is 0')

  await collect()
  const alive = refs.filter((ref) => ref.deref() !== undefined).length
  const growth = process.memoryUsage().heapUsed - heapBefore
  t.comment(`requests still reachable after GC: ${alive} of ${refs.length}; heap growth ${(growth / 1024 / 1024).toFixed(1)} MB`)
  t.ok(alive <= CONCURRENCY / 10, `no request object is retained (${alive} still reachable)`)
  t.ok(growth < HEAP_GROWTH_BOUND, `heap grew less than ${HEAP_GROWTH_BOUND / 1024 / 1024} MB (${(growth / 1024 / 1024).toFixed(1)} MB)`)
})
