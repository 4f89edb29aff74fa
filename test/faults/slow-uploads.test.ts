import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import http from 'node:http'
import net from 'node:net'
import { PassThrough } from 'node:stream'
import { Registry } from 'prom-client'
import { buildGateway } from '../../lib/cli/gateway.js'
import lolly from '../../lib/index.js'
import { readGatewayConfig } from '../../lib/cli/gateway-config.js'
import type { LollyOptions } from '../../lib/options/types.js'
import type { TryRecord } from '../../lib/pool/pool-events.js'
import { onRequestHeads, startRawTarget } from '../helpers/fault-targets.js'
import { eventually, inflight, startGateway } from '../helpers/gateway.js'
import { parseSamples, sampleValue } from '../helpers/prometheus-text.js'
import { poolOf } from '../helpers/internals.js'
import { ResourceTracker } from '../helpers/resource-tracker.js'
import { startUpstream, type Upstream } from '../helpers/upstreams.js'

// A client that sends its request body slowly, or stops in the middle of it. A body Fastify parses
// (JSON, forms) is read whole before the route runs, so the plugin never sees it; a body the route
// passes on as a stream (a pass-through parser, as every route of the `lolly` command has) goes to
// the target as it comes, and a client that stops sending it would hold a connection of the
// target's for good. `clientBodyTimeout` (nginx's client_body_timeout) bounds the longest pause
// between two chunks: the client gets 408 and its connection is closed, the target is not charged
// and the request is not retried. Its timer is a plain (not undici's coarse) one, so the 300 ms
// used here fires on time; stalls run in parallel where they can.

const TIMEOUT = 300
const HEAD = 'POST /up HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n'

/** What a raw client saw: the bytes, whether the gateway closed the connection, and when. */
interface Seen {
  text: string
  status: number
  /** The gateway ended the connection (FIN) within the wait. */
  closed: boolean
  ms: number
}

/**
 * Sends `head`, then `pieces` one every `everyMs` (the first at once), and reads what comes back
 * until the gateway closes the connection or `waitMs` passes.
 */
function slowClient (port: number, pieces: string[], everyMs = 1000, waitMs = 3000, head = HEAD): Promise<Seen> {
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    let next = 0
    const write = (): void => { if (next < pieces.length) socket.write(pieces[next++]) }
    socket.write(head)
    write()
    const timer = setInterval(write, everyMs)
    const done = (closed: boolean) => {
      clearInterval(timer)
      clearTimeout(deadline)
      socket.destroy()
      resolve({ text, status: Number(text.slice(9, 12)), closed, ms: Date.now() - started })
    }
    const deadline = setTimeout(() => done(false), waitMs)
    socket.setEncoding('latin1')
    socket.on('data', (data: string) => { text += data })
    socket.on('end', () => done(true))
    socket.on('error', () => done(true))
  })
}

/** A target that reads the body and answers with its length; it records how each request ended. */
async function bodyTarget (name: string): Promise<Upstream & { ends: string[] }> {
  const ends: string[] = []
  const upstream = await startUpstream(name, (req, res, body) => res.end(`${name} got ${body.length}`))
  upstream.server.prependListener('request', (req: http.IncomingMessage) => {
    req.on('aborted', () => ends.push('aborted'))
    req.on('end', () => ends.push('end'))
  })
  return Object.assign(upstream, { ends })
}

/** Routes that pass request bodies on as streams, under `config.upstream` settings of their own by prefix. */
function passThrough (routes: Record<string, Record<string, unknown>> = {}) {
  return (app: FastifyInstance) => {
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
    for (const [prefix, upstream] of Object.entries(routes)) app.post(`${prefix}/*`, { config: { upstream } }, (_req, reply) => reply.from())
    app.post('/*', (_req, reply) => reply.from())
  }
}

/** A gateway over two body targets, `first` tried first; `tries` gets each answered request's try log. */
async function gatewayOver (t: Test, options: LollyOptions, routes = passThrough()) {
  const [first, second] = await Promise.all([bodyTarget('first'), bodyTarget('second')])
  const tries: TryRecord[][] = []
  const gateway = await startGateway({ targets: [first.url, second.url], balancer: 'first', ...options } as LollyOptions, (app) => {
    app.addHook('onResponse', async (request) => { tries.push([...(request.lolly?.tries ?? [])]) })
    routes(app)
  })
  t.teardown(async () => { await gateway.app.close(); await first.close(); await second.close() })
  return { gateway, first, second, tries }
}

test('a client that stops sending its body, or sends it a byte a second: 408 at clientBodyTimeout, the connection closed, the target not charged, no retry', async (t) => {
  const tracker = new ResourceTracker().start()
  t.teardown(() => tracker.stop())
  const { gateway, first, second, tries } = await gatewayOver(t, { clientBodyTimeout: TIMEOUT, passive: { maxFails: 1 } })
  const cases = {
    'stops after 10 of 100 bytes': ['0123456789'],
    'sends the head and nothing more': [],
    'sends a byte a second': [...'0123456789']
  }
  const seen = await Promise.all(Object.values(cases).map((pieces) => slowClient(gateway.port, pieces)))
  Object.keys(cases).forEach((name, i) => {
    const { text, status, closed, ms } = seen[i]
    t.equal(status, 408, `${name}: 408`)
    t.match(text, /\r\nconnection: close\r\n/i, `${name}: saying the connection closes`)
    t.match(text, /"code":"FST_LOLLY_CLIENT_BODY_TIMEOUT"/, `${name}: with the plugin's error`)
    t.ok(closed, `${name}: and the gateway closed it: the rest of the body is never waited for`)
    t.ok(ms >= TIMEOUT && ms < TIMEOUT + 1200, `${name}: at clientBodyTimeout (${ms} ms)`)
  })
  // undici writes the request's head with the first chunk of its body: the head alone never left.
  t.ok(await eventually(() => first.ends.length === 2), 'the target saw the two requests that had started cut')
  t.same(first.ends, ['aborted', 'aborted'])
  t.equal(second.ends.length, 0, 'no request was retried on the other target')
  t.same(tries.map((log) => log.map((r) => [r.target, r.error])), Array(3).fill([[first.url, 'FST_LOLLY_CLIENT_BODY_TIMEOUT']]), 'each request\'s one try, cut for the client\'s stall')
  t.same(gateway.app.lolly.targets.map((target) => [target.state, target.failures]), [['healthy', 0], ['healthy', 0]],
    'not charged: with maxFails 1 a single charge would have ejected it')
  t.equal(inflight(gateway.app), 0, 'nothing in flight')
  await gateway.app.close()
  t.same(tracker.ours(), [], 'after close no timer or socket of ours is left')
})

// The rest wait on timers and sockets, not on the CPU, and share nothing: they run side by side.
test('more slow uploads, side by side', { jobs: 8 }, async (t) => {
  t.test('clientBodyTimeout is the longest pause, not the whole body: a body that keeps coming goes through', async (t) => {
    const { gateway, first } = await gatewayOver(t, { clientBodyTimeout: TIMEOUT })
    // 100 bytes in five pieces 150 ms apart: twice the timeout in all, each pause half of it.
    const seen = await slowClient(gateway.port, Array.from({ length: 5 }, () => '0123456789'.repeat(2)), 150, 3000, HEAD.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'))
    t.equal(seen.status, 200)
    t.match(seen.text, /first got 100$/, 'the target got the whole body')
    t.ok(seen.ms >= 2 * TIMEOUT, `over ${seen.ms} ms`)
    t.same(first.ends, ['end'])
  })

  t.test('a target that does not read the body is the target\'s fault: responseTimeout ends the try, 504, charged', async (t) => {
    // The target reads the head and none of the body: once the sockets between are full, undici
    // holds the client's stream paused, and a pause it holds is not the client's.
    const deaf = await startRawTarget((socket) => { socket.pause() })
    const gateway = await startGateway({ targets: [deaf.url], clientBodyTimeout: 100, responseTimeout: TIMEOUT }, passThrough())
    t.teardown(async () => { await gateway.app.close(); await deaf.close() })
    const body = Buffer.alloc(32 * 1024 * 1024, 'b')
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gateway.url}/up`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
        res.resume()
        resolve(res.statusCode!)
      })
      req.on('error', reject)
      req.end(body)
    })
    t.equal(status, 504, 'a gateway timeout, not the client\'s 408')
    t.same(gateway.app.lolly.targets.map((target) => target.failures), [1], 'charged to the target')
  })

  t.test('per route: a route\'s own clientBodyTimeout over its pool\'s, 0 turns it off', async (t) => {
    const { gateway, first } = await gatewayOver(t, {}, passThrough({ '/short': { clientBodyTimeout: TIMEOUT }, '/off': { clientBodyTimeout: 0 } }))
    const short = slowClient(gateway.port, ['0123456789'], 1000, 3000, HEAD.replace('/up', '/short/up'))
    // Stalls for 800 ms (well past the other route's timeout), then sends the rest.
    const off = slowClient(gateway.port, ['0123456789', '0'.repeat(90)], 800, 3000, HEAD.replace('/up', '/off/up').replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'))
    const [shortSeen, offSeen] = await Promise.all([short, off])
    t.equal(shortSeen.status, 408, 'the route\'s 300 ms, not the pool\'s 60 s')
    t.ok(shortSeen.ms < TIMEOUT + 1200, `(${shortSeen.ms} ms)`)
    t.equal(offSeen.status, 200, 'no timeout on the route that turned it off')
    t.match(offSeen.text, /first got 100$/)
    t.ok(await eventually(() => first.ends.length === 2))
    t.same(first.ends.sort(), ['aborted', 'end'])
  })

  t.test('an informational answer (103) while the body comes does not stop the timer; a caller\'s onError gets the 408', async (t) => {
    const early = await startRawTarget((socket) => onRequestHeads(socket, () => socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n')))
    const gateway = await startGateway({ targets: [early.url], clientBodyTimeout: TIMEOUT }, (app) => {
      app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
      app.post('/*', (_req, reply) => reply.from(undefined, {
        onError: (reply, { error }) => {
          const { statusCode, code } = error as Error & { statusCode: number, code: string }
          reply.code(statusCode).send({ caller: code })
        }
      }))
    })
    t.teardown(async () => { await gateway.app.close(); await early.close() })
    const seen = await slowClient(gateway.port, ['0123456789'])
    t.equal(seen.status, 408)
    t.match(seen.text, /\r\nconnection: close\r\n/i, 'the connection still closes after the caller\'s answer')
    t.match(seen.text, /\{"caller":"FST_LOLLY_CLIENT_BODY_TIMEOUT"\}$/, 'the caller\'s onError got the plugin\'s error')
    t.ok(seen.closed)
    t.same(gateway.app.lolly.targets.map((target) => target.failures), [0])
  })

  t.test('the fast path never waits for a body (it takes only calls without one): a GET with a stalled body is answered at once, its connection closed', async (t) => {
    const { gateway } = await gatewayOver(t, { clientBodyTimeout: TIMEOUT }, (app) => { app.get('/*', (_req, reply) => reply.from()) })
    const seen = await slowClient(gateway.port, ['0123456789'], 1000, 3000, HEAD.replace('POST', 'GET'))
    // Had it waited for the body, the answer would be clientBodyTimeout's 408.
    t.equal(seen.status, 200, `answered without the body (${seen.ms} ms)`)
    t.ok(seen.closed, 'and the connection closed: the rest of the body is never read')
  })

  t.test('a stream sent through the pool\'s dispatcher is timed too; the metrics count the try as aborted, not as the target\'s error', async (t) => {
    const registry = new Registry()
    const { gateway, first } = await gatewayOver(t, { clientBodyTimeout: TIMEOUT, metrics: { registry } })
    const body = new PassThrough()
    body.write('0123456789')
    const started = Date.now()
    await t.rejects(gateway.app.lolly.upstreams.default.dispatcher.request({ origin: 'http://pool', path: '/up', method: 'POST', body }),
      { code: 'FST_LOLLY_CLIENT_BODY_TIMEOUT', statusCode: 408 })
    t.ok(Date.now() - started < TIMEOUT + 1200)
    const samples = parseSamples(await registry.metrics())
    t.equal(sampleValue(samples, 'lolly_requests_total', { target: first.url, code: 'aborted' }), 1)
    t.equal(sampleValue(samples, 'lolly_requests_total', { target: first.url, code: 'error' }), undefined)
  })

  t.test('options: 60 s by default, per pool and per route, 0 turns it off, anything else fails naming its path', async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(lolly, { upstreams: { a: { targets: ['http://127.0.0.1:1'] }, b: { targets: ['http://127.0.0.1:2'], clientBodyTimeout: 0 } } })
    const other = Fastify()
    t.teardown(() => other.close())
    await other.register(lolly, { clientBodyTimeout: 5000, upstreams: { c: { targets: ['http://127.0.0.1:1'] } } })
    t.same([poolOf(app, 'a').config.clientBodyTimeout, poolOf(app, 'b').config.clientBodyTimeout, poolOf(other, 'c').config.clientBodyTimeout], [60_000, 0, 5000],
      'the default, a pool\'s own 0, and a top-level value as every pool\'s default')
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ targets: ['http://127.0.0.1:1'], clientBodyTimeout: -1 }, 'clientBodyTimeout must be an integer >= 0, got -1'],
      [{ targets: ['http://127.0.0.1:1'], clientBodyTimeout: '60s' }, 'clientBodyTimeout must be an integer >= 0, got \'60s\''],
      [{ upstreams: { api: { targets: ['http://127.0.0.1:1'], clientBodyTimeout: 1.5 } } }, 'upstreams.api.clientBodyTimeout must be an integer >= 0, got 1.5']
    ]
    for (const [options, message] of bad) {
      await t.rejects(async () => { await Fastify().register(lolly, options as LollyOptions) }, { code: 'FST_LOLLY_INVALID_OPTION', message })
    }
    t.throws(() => app.post('/x', { config: { upstream: { name: 'a', clientBodyTimeout: -5 } } }, (_req, reply) => reply.from()),
      { message: 'route POST /x: config.upstream.clientBodyTimeout must be an integer >= 0, got -5' })
  })

  t.test('the lolly command: its routes pass bodies through, clientBodyTimeout applies (60 s unless set), and Node\'s server bounds a slow head', async (t) => {
    const upstream = await bodyTarget('up')
    t.teardown(() => upstream.close())
    const sink = new PassThrough().resume()
    const defaults = readGatewayConfig({ targets: [upstream.url], logger: { level: 'silent' } }, 'lolly.yaml')
    t.equal(defaults.normalized.upstreams.get('default')!.clientBodyTimeout, 60_000, 'on by default, at nginx\'s 60 s')
    const config = readGatewayConfig({
      targets: [upstream.url],
      routes: [{ prefix: '/quick', clientBodyTimeout: TIMEOUT }, { prefix: '/' }],
      logger: { level: 'silent' }
    }, 'lolly.yaml')
    const app = await buildGateway(config, sink)
    t.teardown(() => app.close())
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    const seen = await slowClient(port, ['0123456789'], 1000, 3000, HEAD.replace('/up', '/quick/up'))
    t.equal(seen.status, 408, 'a file route\'s clientBodyTimeout')
    t.ok(seen.closed, 'and the connection closed')
    t.same(upstream.ends, ['aborted'])
    // What bounds the rest (Fastify's defaults and Node's): a head must come whole within 60 s (Node
    // checks every 30 s, so a slowloris head is cut after 60 to 90 s, with 408); an idle keep-alive
    // connection closes after 72 s; no total time for a whole request (Fastify sets Node's 300 s
    // requestTimeout to 0), so a large upload at a steady pace is never cut.
    t.same([app.server.headersTimeout, app.server.requestTimeout, app.server.keepAliveTimeout], [60_000, 0, 72_000])
  })
})
