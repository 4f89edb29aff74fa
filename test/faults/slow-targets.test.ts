import { test, type Test } from 'tap'
import type net from 'node:net'
import type { LollyOptions } from '../../lib/options/types.js'
import type { StateChange, TryRecord } from '../../lib/pool/pool-events.js'
import { onRequestHeads, startRawTarget, type RawTarget } from '../helpers/fault-targets.js'
import { eventually, inflight, startGateway } from '../helpers/gateway.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'
import { startUpstream } from '../helpers/upstreams.js'

// Targets that trickle their answer. Their tries are ended by bodyTimeout (a body) or
// responseTimeout (a head) and charged to them (passive health ejects them), and the client gets an
// answer, a clean error status or a cut body: never a wait as long as the trickle.
//
// A request to `/x` takes the fast path; `/x%20rf` (percent-encoding) is left to reply-from, the
// other path through the plugin. Each case runs on a gateway of its own, all cases at once.
//
// undici runs headersTimeout and bodyTimeout on coarse timers (a tick every half second): a 300 ms
// timeout fires 0.5 to 1 s after it starts. A head trickled a byte a second cannot beat it (bytes
// of a head do not re-arm it), but a body byte a second could land just before it fires and re-arm
// it: bodies trickle a byte every two seconds, as slow a trickle, without that race.

const TIMEOUT = 300
// One failure ejects a target (of two): the charge shows as an ejection.
const PASSIVE = { maxFails: 1, ejectTime: 60_000 }

/** Writes `pieces` to `socket`, the first at once and one more every `everyMs`, until the socket closes. */
function trickle (socket: net.Socket, pieces: string[], everyMs: number): void {
  let next = 0
  const write = (): void => {
    if (next < pieces.length && !socket.destroyed) socket.write(pieces[next++])
  }
  write()
  const timer = setInterval(write, everyMs)
  socket.once('close', () => clearInterval(timer))
}

function bytes (text: string): string[] {
  return [...text]
}

const FAST = '/x'
const REPLY_FROM = '/x%20rf'

interface Outcome {
  status: number
  /** The body as the client read it, or how reading it failed. */
  body: string
  ms: number
}

async function get (url: string): Promise<Outcome> {
  const started = Date.now()
  const res = await fetch(url)
  let body: string
  try {
    body = await res.text()
  } catch (err) {
    body = `cut: ${(err as Error).message}`
  }
  return { status: res.status, body, ms: Date.now() - started }
}

/**
 * A gateway over [slow, good] that tries `slow` first (balancer 'first'); resolves with what two
 * GETs to `path` saw and what the pool said of the slow target.
 */
async function twoGets (t: Test, slow: RawTarget, path: string, options: Partial<LollyOptions>, routeUpstream?: Record<string, unknown>) {
  const good = await startUpstream('good')
  const tries: TryRecord[][] = []
  const changes: StateChange[] = []
  const gateway = await startGateway({ targets: [slow.url, good.url], balancer: 'first', passive: PASSIVE, ...options } as LollyOptions, (app) => {
    app.all('/*', { config: routeUpstream === undefined ? {} : { upstream: routeUpstream } }, (_req, reply) => reply.from())
    app.addHook('onResponse', async (request) => { tries.push([...(request.lolly?.tries ?? [])]) })
  })
  t.teardown(async () => { await gateway.app.close(); await slow.close(); await good.close() })
  gateway.app.lolly.on('state', (change) => changes.push(change))
  const outcomes = [await get(gateway.url + path)]
  const connectionsWhenEjected = slow.connections
  outcomes.push(await get(gateway.url + path))
  const snapshot = gateway.app.lolly.targets.find((target) => target.url === slow.url)!
  t.ok(await eventually(() => inflight(gateway.app) === 0), `${path}: nothing left in flight`)
  await gateway.app.close()
  return { outcomes, snapshot, changes, tries, laterConnections: slow.connections - connectionsWhenEjected }
}

// The two wait on timers, not on the CPU: they run side by side, and one check at the end finds
// nothing of either left.
test('targets that trickle', { jobs: 2 }, async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const bodies = t.test('a target that trickles its body: bodyTimeout ends it, the target is charged, the client gets an error status or a cut body', async (t) => {
    const sized = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n'
    const chunked = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n'
    const sizedBody = bytes('01234567890123456789')
    const chunks = [...Array.from({ length: 20 }, () => '1\r\nx\r\n'), '0\r\n\r\n']
    // `cut`: the first byte went to the client with the head, so the status is out: the body breaks off.
    // Otherwise no byte of the answer was out and the client gets an error status of the gateway's.
    const cases = [
      // Known length up to 64 KiB: collected, so nothing of it was sent when it stopped.
      { name: 'fast path, small body (collected)', path: FAST, pieces: [sized + sizedBody[0], ...sizedBody.slice(1)], cut: false },
      { name: 'fast path, streamed body', path: FAST, pieces: [chunked + chunks[0], ...chunks.slice(1)], cut: true },
      // reply-from streams every body, small ones too.
      { name: 'reply-from path, small body', path: REPLY_FROM, pieces: [sized + sizedBody[0], ...sizedBody.slice(1)], cut: true },
      { name: 'reply-from path, streamed body', path: REPLY_FROM, pieces: [chunked + chunks[0], ...chunks.slice(1)], cut: true },
      // The head alone, then nothing within bodyTimeout: the headers were never flushed to the client,
      // who gets Fastify's answer to the body stream's error: 500 with undici's UND_ERR_BODY_TIMEOUT,
      // what reply-from alone answers (its own test file pins it), where a collected body gets 504.
      { name: 'fast path, streamed body stalled after the head', path: FAST, pieces: [chunked, ...chunks], cut: false },
      { name: 'reply-from path, body stalled after the head', path: REPLY_FROM, pieces: [sized, ...sizedBody], cut: false }
    ]
    await Promise.all(cases.map(async ({ name, path, pieces, cut }, i) => {
      const slow = await startRawTarget((socket) => onRequestHeads(socket, () => trickle(socket, pieces, 2000)))
      // The pool's bodyTimeout for half the cases, a route's own (over the pool's 30 s) for the other half.
      const result = i % 2 === 0
        ? await twoGets(t, slow, path, { bodyTimeout: TIMEOUT })
        : await twoGets(t, slow, path, {}, { bodyTimeout: TIMEOUT })
      const [slowOne, after] = result.outcomes
      if (cut) {
        t.equal(slowOne.status, 200, `${name}: the status had gone out with the first byte`)
        t.match(slowOne.body, /^cut: /, `${name}: the client sees the body break off, not a short body passed off as whole`)
      } else {
        t.ok(slowOne.status >= 500, `${name}: an error status (${slowOne.status}): no byte of the answer had gone out`)
        t.match(slowOne.body, /BODY_TIMEOUT/, `${name}: naming the body timeout`)
      }
      // The trickle would take 40 s; bodyTimeout ends it before its second byte.
      t.ok(slowOne.ms >= TIMEOUT && slowOne.ms < 2000, `${name}: ended by bodyTimeout (${slowOne.ms} ms)`)
      t.equal(result.snapshot.failures, 1, `${name}: the stalled body was charged to the target`)
      t.same(result.changes.map((c) => [c.target, c.to]), [[slow.url, 'ejected']], `${name}: and passive health ejected it`)
      t.same([after.status, after.body], [200, `good GET ${path}`], `${name}: the next request went to the other target`)
      t.equal(result.laterConnections, 0, `${name}: none reached the ejected one`)
    }))
  })

  const heads = t.test('a target that trickles its response head a byte a second: responseTimeout ends the try, the target is charged, and the GET gets the other target\'s answer', async (t) => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nslow'
    await Promise.all([FAST, REPLY_FROM].map(async (path) => {
      const slow = await startRawTarget((socket) => onRequestHeads(socket, () => trickle(socket, bytes(head), 1000)))
      const result = await twoGets(t, slow, path, { responseTimeout: TIMEOUT })
      const [slowOne, after] = result.outcomes
      t.same([slowOne.status, slowOne.body], [200, `good GET ${path}`], `${path}: failed over to the good target`)
      t.ok(slowOne.ms >= TIMEOUT && slowOne.ms < 2000, `${path}: after responseTimeout, not the trickle (${slowOne.ms} ms)`)
      t.same(result.tries[0].map((r) => [r.target, r.error ?? r.status]), [[slow.url, 'UND_ERR_HEADERS_TIMEOUT'], [result.tries[0][1].target, 200]],
        `${path}: the try log shows the timeout, then the other target's answer`)
      t.equal(result.snapshot.failures, 1, `${path}: the trickled head was charged to the target`)
      t.same(result.changes.map((c) => [c.target, c.to]), [[slow.url, 'ejected']], `${path}: and passive health ejected it`)
      t.same([after.status, after.body], [200, `good GET ${path}`])
      // undici's coarse timers cannot fire a 300 ms timeout in under 500 ms.
      t.ok(after.ms < 500, `${path}: once it was out, no request waited for it (${after.ms} ms)`)
      t.equal(result.laterConnections, 0, `${path}: none reached it`)
    }))
  })
  await Promise.all([bodies, heads])
  t.same(tracker.ours(), [], 'after close no timer or socket of ours is left')
})
