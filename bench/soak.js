'use strict'

// `npm run soak [-- --seconds 300] [-- --connections 32] [-- --flap-ms 5000] [-- --json]`
// Minutes of mixed traffic through three targets (one steady, one slow, one that goes down and comes
// back every --flap-ms) to find what only shows over time: memory that grows, requests that hang,
// in-flight counts that drift, health states that thrash, an event loop that stalls. Not part of
// `npm test`. The gateway (the built package) runs in this process; the targets and the load
// generator run in a child process, so the event-loop delay measured here is the gateway's own.

const { fork } = require('node:child_process')
const http = require('node:http')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { setFlagsFromString } = require('node:v8')
const { runInNewContext } = require('node:vm')

const USAGE = 'usage: node bench/soak.js [--seconds N] [--connections N] [--flap-ms N] [--json]'
const PROGRESS_EVERY_MS = 10_000
const KIB = Buffer.alloc(1024, 'x')

function parseArgs (argv) {
  const args = { seconds: 300, connections: 32, flapMs: 5000, json: false, peer: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const number = () => {
      const value = Number(argv[++i])
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${arg} needs a positive number\n${USAGE}`)
      return value
    }
    if (arg === '--seconds') args.seconds = number()
    else if (arg === '--connections') args.connections = Math.floor(number())
    else if (arg === '--flap-ms') args.flapMs = number()
    else if (arg === '--json') args.json = true
    else if (arg === '--peer') args.peer = true
    else throw new Error(`unknown argument ${arg}\n${USAGE}`)
  }
  return args
}

// ---------------------------------------------------------------- child: targets and load generator

function targetHandler (delay) {
  return (req, res) => {
    const answer = () => {
      if (req.url === '/health') return res.end('ok')
      if (req.url.startsWith('/err/')) {
        res.statusCode = 500
        return res.end('application error')
      }
      if (req.url.startsWith('/big')) {
        // 64 KiB in 8 chunks, one per tick: a body that takes a while to stream.
        let left = 64
        const pump = () => {
          while (left > 0) {
            left--
            if (!res.write(KIB)) return res.once('drain', pump)
          }
          res.end()
        }
        return pump()
      }
      res.setHeader('content-type', 'application/octet-stream')
      res.end(KIB)
    }
    req.resume()
    req.on('end', () => {
      const ms = delay()
      if (ms === 0) answer()
      else setTimeout(answer, ms)
    })
  }
}

async function listen (server, port = 0) {
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  return server.address().port
}

/** A target that is up for `flapMs`, then refuses connections for `flapMs`, on the same port. */
async function startFlapping (flapMs) {
  let server = http.createServer(targetHandler(() => 0))
  const port = await listen(server)
  let up = true
  let flips = 0
  const timer = setInterval(async () => {
    flips++
    if (up) {
      up = false
      server.closeAllConnections()
      server.close()
    } else {
      server = http.createServer(targetHandler(() => 0))
      await listen(server, port)
      up = true
    }
  }, flapMs)
  return {
    port,
    flips: () => flips,
    close () {
      clearInterval(timer)
      server.closeAllConnections()
      server.close()
    }
  }
}

async function runPeer (args) {
  const { Pool } = require('undici')
  const steady = http.createServer(targetHandler(() => 0))
  const slow = http.createServer(targetHandler(() => 50 + Math.floor(Math.random() * 100)))
  const ports = [await listen(steady), await listen(slow)]
  const flapping = await startFlapping(args.flapMs)
  ports.push(flapping.port)
  process.send({ type: 'ready', ports })

  const { url, seconds, connections } = await new Promise((resolve) => process.once('message', resolve))
  const client = new Pool(url, { connections, keepAliveTimeout: 10_000 })
  const counts = { requests: 0, ok: 0, applicationErrors: 0, intendedAborts: 0, errors: {} }
  let window = { requests: 0, errors: 0 }
  const countError = (kind) => {
    counts.errors[kind] = (counts.errors[kind] ?? 0) + 1
    window.errors++
  }
  const deadline = Date.now() + seconds * 1000
  const progress = setInterval(() => {
    process.send({ type: 'progress', window, flips: flapping.flips() })
    window = { requests: 0, errors: 0 }
  }, PROGRESS_EVERY_MS)

  async function one (i) {
    const roll = Math.random()
    const controller = new AbortController()
    let opts = { path: `/api/items?i=${i}`, method: 'GET', signal: controller.signal }
    let abort = false
    if (roll < 0.15) opts = { ...opts, path: '/api/items', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i, pad: 'p'.repeat(480) }) }
    else if (roll < 0.25) opts = { ...opts, path: `/big/${i}` }
    else if (roll < 0.35) opts = { ...opts, path: `/err/${i}` }
    else if (roll < 0.40) abort = true
    if (abort) setTimeout(() => controller.abort(), Math.floor(Math.random() * 20))
    counts.requests++
    window.requests++
    try {
      const res = await client.request(opts)
      const text = await res.body.text()
      if (res.statusCode < 400) counts.ok++
      else if (res.statusCode === 500 && text === 'application error') counts.applicationErrors++
      else {
        let code = ''
        try { code = JSON.parse(text).code ?? '' } catch {}
        countError(`${opts.method} ${res.statusCode} ${code}`.trim())
      }
    } catch (err) {
      if (abort && (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED')) counts.intendedAborts++
      else countError(`${opts.method} client ${err.code ?? err.name}`)
    }
  }

  let i = 0
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < deadline) await one(i++)
  }))
  clearInterval(progress)
  await client.close()
  process.send({ type: 'done', counts, flips: flapping.flips() })
  await new Promise((resolve) => process.once('message', resolve))
  flapping.close()
  for (const server of [steady, slow]) { server.closeAllConnections(); server.close() }
  process.disconnect()
}

// ---------------------------------------------------------------- parent: the gateway

const mb = (bytes) => Math.round(bytes / 1024 / 1024 * 10) / 10
// The loop-delay sampler's period, ms. Node records the whole time between two of its ticks, so the
// delay is what exceeds the period (as bench/ipc.js reads it).
const LOOP_SAMPLE_MS = 10
const loopMs = (ns) => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS)

function memory (gc) {
  gc()
  const { rss, heapUsed, external } = process.memoryUsage()
  return { rssMB: mb(rss), heapMB: mb(heapUsed), externalMB: mb(external) }
}

async function runGateway (args) {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  const Fastify = require('fastify')
  const lolly = require('../dist/index.js')

  const peer = fork(__filename, ['--peer', '--flap-ms', String(args.flapMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const messages = []
  let wake = () => {}
  peer.on('message', (message) => { messages.push(message); wake() })
  const next = async (type) => {
    for (;;) {
      const at = messages.findIndex((m) => m.type === type)
      if (at !== -1) return messages.splice(at, 1)[0]
      await new Promise((resolve) => { wake = resolve })
    }
  }
  peer.on('message', (message) => {
    if (message.type === 'progress') progressLine(message)
  })

  const { ports } = await next('ready')
  const targets = ports.map((port) => `http://127.0.0.1:${port}`)
  const names = { [targets[0]]: 'steady', [targets[1]]: 'slow', [targets[2]]: 'flapping' }
  const app = Fastify({ bodyLimit: 1024 * 1024 })
  await app.register(lolly, {
    targets,
    balancer: 'least-connections',
    responseTimeout: 2000,
    passive: { maxFails: 3, failWindow: 5000, ejectTime: 2000, maxEjectTime: 10_000 },
    healthCheck: { interval: 1000, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 2 }
  })
  app.all('/*', (_req, reply) => reply.from())
  const transitions = {}
  app.lolly.on('state', (change) => {
    const key = `${names[change.target]} -> ${change.to}`
    transitions[key] = (transitions[key] ?? 0) + 1
  })
  await app.listen({ port: 0, host: '127.0.0.1' })

  const loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  let windowLoop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  loop.enable()
  windowLoop.enable()
  const startedAt = Date.now()
  const memoryAtStart = memory(gc)
  let memoryAfterWarmUp
  const warmUp = setTimeout(() => { memoryAfterWarmUp = memory(gc) }, Math.min(10_000, args.seconds * 100))

  function progressLine ({ window, flips }) {
    const elapsed = Math.round((Date.now() - startedAt) / 1000)
    const { rss, heapUsed } = process.memoryUsage()
    const p99 = loopMs(windowLoop.percentile(99))
    windowLoop.disable()
    windowLoop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
    windowLoop.enable()
    const states = app.lolly.targets.map((t) => `${names[t.url]}=${t.state}`).join(' ')
    if (!args.json) {
      console.log(`${String(elapsed).padStart(4)}s  ${String(Math.round(window.requests / 10)).padStart(5)} req/s  ` +
        `${String(window.errors).padStart(4)} errors  rss ${mb(rss)} MB  heap ${mb(heapUsed)} MB  loop p99 ${p99.toFixed(1)} ms  ` +
        `flips ${flips}  ${states}`)
    }
  }

  peer.send({ url: `http://127.0.0.1:${app.server.address().port}`, seconds: args.seconds, connections: args.connections })
  const { counts, flips } = await next('done')
  clearTimeout(warmUp)
  loop.disable()
  windowLoop.disable()
  // Let the last responses and probes settle, then check that nothing is still counted in flight.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const inflight = Object.fromEntries(app.lolly.targets.map((t) => [names[t.url], t.inflight]))
  const memoryAtEnd = memory(gc)
  const closeStarted = Date.now()
  await app.close()
  const closeMs = Date.now() - closeStarted
  peer.send({ type: 'exit' })

  const errors = Object.values(counts.errors).reduce((a, b) => a + b, 0)
  const result = {
    seconds: args.seconds,
    connections: args.connections,
    requests: counts.requests,
    requestsPerSecond: Math.round(counts.requests / args.seconds),
    ok: counts.ok,
    applicationErrors: counts.applicationErrors,
    intendedAborts: counts.intendedAborts,
    errors,
    errorRate: counts.requests === 0 ? 0 : errors / counts.requests,
    errorsByKind: counts.errors,
    flappingTargetFlips: flips,
    transitions,
    inflightAtEnd: inflight,
    memory: { start: memoryAtStart, afterWarmUp: memoryAfterWarmUp ?? memoryAtStart, end: memoryAtEnd },
    eventLoopDelayMs: { p50: loopMs(loop.percentile(50)), p99: loopMs(loop.percentile(99)), max: loopMs(loop.max) },
    closeMs
  }
  if (args.json) console.log(JSON.stringify(result, null, 2))
  else printSummary(result)
}

function printSummary (r) {
  const line = (label, value) => console.log(`${label.padEnd(38)} ${value}`)
  console.log('')
  line('duration', `${r.seconds} s, ${r.connections} connections`)
  line('requests', `${r.requests} (${r.requestsPerSecond} req/s)`)
  line('answered by a target (2xx/3xx)', r.ok)
  line('500 from the application (passed on)', r.applicationErrors)
  line('aborted by the client (on purpose)', r.intendedAborts)
  line('errors', `${r.errors} (${(r.errorRate * 100).toFixed(3)} %)`)
  for (const [kind, n] of Object.entries(r.errorsByKind).sort((a, b) => b[1] - a[1])) line(`  ${kind}`, n)
  line('flapping target went up/down', `${r.flappingTargetFlips} times`)
  line('state transitions', Object.entries(r.transitions).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none')
  line('in flight at the end', JSON.stringify(r.inflightAtEnd))
  const m = r.memory
  line('RSS start / after warm-up / end', `${m.start.rssMB} / ${m.afterWarmUp.rssMB} / ${m.end.rssMB} MB`)
  line('heap start / after warm-up / end', `${m.start.heapMB} / ${m.afterWarmUp.heapMB} / ${m.end.heapMB} MB (after GC)`)
  line('external start / after warm-up / end', `${m.start.externalMB} / ${m.afterWarmUp.externalMB} / ${m.end.externalMB} MB (buffers)`)
  line('event-loop delay p50 / p99 / max', `${r.eventLoopDelayMs.p50.toFixed(1)} / ${r.eventLoopDelayMs.p99.toFixed(1)} / ${r.eventLoopDelayMs.max.toFixed(1)} ms`)
  line('app.close()', `${r.closeMs} ms`)
}

const args = parseArgs(process.argv.slice(2))
const main = args.peer ? runPeer : runGateway
main(args).catch((err) => {
  console.error(err)
  process.exit(1)
})
