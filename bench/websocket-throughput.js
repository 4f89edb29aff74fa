'use strict'

// WebSocket tunnel throughput: 64 KiB binary messages through one open WebSocket (and through 8 at
// once), client -> upstream ("up") and upstream -> client ("down"), for three contenders in one run:
// - direct: the client talks to the upstream itself;
// - fastify-lolly: `websocket: true`, a route whose handler calls reply.from(): the handshake goes
//   through the pool, then the proxy pipes raw bytes both ways (lib/tunnel/);
// - @fastify/http-proxy `websocket: true`: ends the client's WebSocket in a `ws` server, opens its own
//   `ws` client to the upstream and re-sends every message (decoded, then framed and masked again);
// - the floor: a node:net server that pipes each connection to the upstream, handshake and all. What
//   relaying bytes through any Node process costs; lolly's tunnel is that after its 101.
// The upstream is a `ws` WebSocketServer in a child process: a sink that counts the message bytes it
// gets ("up", measured there, on its clock) or a source that floods the client ("down", counted by
// the client). The client is `ws` in the bench process: it keeps WINDOW messages queued per
// WebSocket (a new send() as each one is written out), so backpressure sets its pace. Each proxy is
// a child of its own; every measurement opens fresh WebSockets, lets them run SETTLE_MS, then counts
// for `seconds`. Rounds interleave the contenders (each round starts with the next one), so a noisy
// neighbour hurts all alike. permessage-deflate is off on every end. Client frames are masked with
// random keys as browsers do; there is no bufferutil, so ws masks and unmasks in JavaScript, and "up"
// is bound by the two ends (the client's masking above all), "down" (server frames are not masked) by
// the proxy: it shows what the proxy itself can carry.
// Numbers are MiB/s of message payload; CPU is each process's own (process.cpuUsage) over the window.
//
// This file is also the child processes' script:
//   node bench/websocket-throughput.js upstream
//   node bench/websocket-throughput.js lolly|http-proxy '<json: { upstream: url, lollyOptions? }>'

const { performance } = require('node:perf_hooks')
const { startChild, serveParent } = require('./ipc.js')
const { median } = require('./median.js')
const { formatTable, fixed, percent } = require('./table.js')

const MESSAGE_BYTES = 64 * 1024
// Messages each sender keeps queued (1 MiB): enough to keep the socket busy, little enough that
// backpressure, not an ever-growing queue, sets the pace.
const WINDOW = 16
// From the first message to the start of the counted window: the sockets' buffers fill first.
const SETTLE_MS = 500
const WARMUP_SECONDS = 1
// From the client's open to its first message: @fastify/http-proxy answers the client before its own
// WebSocket to the upstream is open, and would queue the first messages (a listener each) until then.
const OPEN_PAUSE_MS = 100
// How long the upstream may take to see every WebSocket of a measurement closed.
const CLOSE_TIMEOUT_MS = 5_000
const MiB = 2 ** 20
const PATH = '/ws'
const DIRECTIONS = ['up', 'down']

const CONTENDERS = [
  { key: 'direct', label: 'direct (no proxy)' },
  { key: 'lolly', label: 'fastify-lolly, websocket: true' },
  { key: 'http-proxy', label: '@fastify/http-proxy, websocket: true' },
  { key: 'tcp-relay', label: 'node:net relay, pipe() both ways (floor)' }
]
/** `--cpu-prof=<key>` / `--heap-prof=<key>` keys of the proxy children this section can profile. */
const WEBSOCKET_PROFILABLE = CONTENDERS.filter((c) => c.key !== 'direct').map((c) => `websocket-${c.key}`)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Keeps WINDOW copies of `message` queued on `ws`, topped up as they are written out; returns stop().
 * The top-up waits for setImmediate, not the send callback itself: a write the kernel takes at once
 * calls back on process.nextTick, and sending again from there can keep the process in its nextTick
 * queue for good (no timer, no IPC message is ever handled).
 */
function flood (ws, message) {
  const { OPEN } = ws.constructor
  let stopped = false
  let queued = 0
  let scheduled = false
  const top = () => {
    scheduled = false
    while (!stopped && ws.readyState === OPEN && queued < WINDOW) {
      queued++
      ws.send(message, { binary: true }, sent)
    }
  }
  function sent (err) {
    queued--
    if (err !== undefined && err !== null) stopped = true
    if (!scheduled && !stopped) {
      scheduled = true
      setImmediate(top)
    }
  }
  top()
  return () => { stopped = true }
}

// ---------------------------------------------------------------------------------------------
// Children

async function upstreamChild () {
  const { WebSocketServer } = require('ws')
  const message = Buffer.alloc(MESSAGE_BYTES, 0x61)
  const open = new Set()
  let received = 0
  let handshakes = 0
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, path: PATH })
  wss.on('connection', (ws, req) => {
    handshakes++
    open.add(ws)
    ws.on('close', () => open.delete(ws))
    ws.on('error', () => {})
    if (new URL(req.url, 'http://x').searchParams.get('direction') === 'down') flood(ws, message)
    else ws.on('message', (data) => { received += data.length })
  })
  await new Promise((resolve, reject) => {
    wss.once('error', reject)
    wss.once('listening', resolve)
  })
  serveParent({
    mark: () => ({ bytes: received, at: performance.now() }),
    counters: () => ({ open: open.size, handshakes }),
    close: () => new Promise((resolve) => {
      for (const ws of open) ws.terminate()
      wss.close(resolve)
    })
  }).ready({ port: wss.address().port })
}

async function lollyApp ({ upstream, lollyOptions }) {
  const app = require('fastify')()
  await app.register(require('../dist/index.js'), { ...lollyOptions, targets: [upstream], websocket: true })
  app.get(PATH, (request, reply) => { reply.from() })
  return { app, notes: lollyOptions === undefined || lollyOptions === null ? [] : [`--lolly-options ${JSON.stringify(lollyOptions)}`] }
}

async function httpProxyApp ({ upstream }) {
  const app = require('fastify')()
  await app.register(require('@fastify/http-proxy'), {
    upstream,
    websocket: true,
    // Its ws server has it off by default; its ws client would offer it (the upstream declines).
    wsServerOptions: { perMessageDeflate: false },
    wsClientOptions: { perMessageDeflate: false }
  })
  return { app, notes: [] }
}

/**
 * The floor of a proxy in Node: a TCP relay that pipes each connection to the upstream as it comes
 * (the handshake passes through untouched), with the tunnel's socket settings. No HTTP, no balancer:
 * what any Node proxy of raw bytes pays, which lolly's tunnel is after its 101.
 */
function tcpRelay ({ upstream }) {
  const net = require('node:net')
  const { hostname, port } = new URL(upstream)
  const sockets = new Set()
  const server = net.createServer((client) => {
    const target = net.connect(Number(port), hostname)
    for (const socket of [client, target]) {
      sockets.add(socket)
      socket.setNoDelay(true)
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        client.destroy()
        target.destroy()
      })
    }
    client.pipe(target)
    target.pipe(client)
  })
  return {
    server,
    notes: ['node:net, pipe() both ways'],
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(resolve))
    }
  }
}

async function proxyChild (role, config) {
  if (role === 'tcp-relay') {
    const { server, notes, close } = tcpRelay(config)
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    serveParent({ memory: () => process.memoryUsage().rss, close }).ready({ port: server.address().port, notes })
    return
  }
  const { app, notes } = role === 'lolly' ? await lollyApp(config) : await httpProxyApp(config)
  await app.listen({ port: 0, host: '127.0.0.1' })
  serveParent({
    memory: () => process.memoryUsage().rss,
    close: () => {
      app.server.closeAllConnections?.()
      return Promise.race([app.close(), sleep(1_000)])
    }
  }).ready({ port: app.server.address().port, notes })
}

// ---------------------------------------------------------------------------------------------
// Parent

/** Opens `count` WebSockets to `url`; resolves once all are open. */
async function openSockets (url, count) {
  const { WebSocket } = require('ws')
  const sockets = []
  try {
    for (let i = 0; i < count; i++) {
      const ws = new WebSocket(url, { perMessageDeflate: false })
      sockets.push(ws)
      await new Promise((resolve, reject) => {
        ws.once('open', resolve)
        ws.once('error', reject)
        ws.once('unexpected-response', (req, res) => reject(new Error(`${url}: ${res.statusCode} instead of 101`)))
      })
      ws.on('error', () => {})
    }
    return sockets
  } catch (err) {
    for (const ws of sockets) ws.terminate()
    throw err
  }
}

/** Until the upstream has no WebSocket open, so one measurement's teardown does not overlap the next. */
async function waitClosed (upstream) {
  const deadline = Date.now() + CLOSE_TIMEOUT_MS
  while (Date.now() < deadline) {
    if ((await upstream.call('counters')).open === 0) return true
    await sleep(20)
  }
  return false
}

/**
 * One measurement: `tunnels` WebSockets through `proxy` (null: direct), data one `direction`, SETTLE_MS, then
 * a window of `seconds`. MiB/s is the upstream's count ("up") or the client's ("down") over the window.
 */
async function measure ({ upstream, upstreamPort, proxy, direction, tunnels, seconds }) {
  const port = proxy === null ? upstreamPort : proxy.port
  const sockets = await openSockets(`ws://127.0.0.1:${port}${PATH}?direction=${direction}`, tunnels)
  const message = Buffer.alloc(MESSAGE_BYTES, 0x62)
  const stops = []
  let received = 0
  try {
    if (direction === 'up') await sleep(OPEN_PAUSE_MS)
    for (const ws of sockets) {
      if (direction === 'up') stops.push(flood(ws, message))
      else ws.on('message', (data) => { received += data.length })
    }
    await sleep(SETTLE_MS)

    const cpuStart = [upstream.call('cpuStart'), proxy?.call('cpuStart')]
    const clientCpu = process.cpuUsage()
    const clientStartAt = performance.now()
    const [upstreamStart] = await Promise.all([upstream.call('mark'), ...cpuStart])
    const receivedStart = received
    await sleep(seconds * 1000)
    const receivedEnd = received
    const clientWallMs = performance.now() - clientStartAt
    const [upstreamEnd, upstreamCpu, proxyCpu, proxyRss] = await Promise.all([
      upstream.call('mark'),
      upstream.call('cpuStop'),
      proxy?.call('cpuStop'),
      proxy?.call('memory')
    ])
    const client = process.cpuUsage(clientCpu)

    const bytes = direction === 'up' ? upstreamEnd.bytes - upstreamStart.bytes : receivedEnd - receivedStart
    const wallMs = direction === 'up' ? upstreamEnd.at - upstreamStart.at : clientWallMs
    const mib = bytes / MiB
    return {
      mibPerSecond: mib / (wallMs / 1000),
      mib,
      proxyCpu: proxyCpu?.share ?? null,
      // What a MiB costs the proxy, whatever share of a core it got on a shared machine.
      proxyUsPerMiB: proxyCpu === undefined || mib === 0 ? null : proxyCpu.cpuUs / mib,
      proxyRssMiB: proxyRss === undefined ? null : proxyRss / MiB,
      upstreamCpu: upstreamCpu.share,
      clientCpu: (client.user + client.system) / (clientWallMs * 1000)
    }
  } finally {
    for (const stop of stops) stop()
    for (const ws of sockets) ws.terminate()
    await waitClosed(upstream)
  }
}

async function startProxy (contender, upstreamUrl, lollyOptions) {
  const child = startChild(__filename, [contender.key, JSON.stringify({ upstream: upstreamUrl, lollyOptions })])
  try {
    const info = await child.ready
    return { ...child, port: info.port, notes: info.notes }
  } catch (err) {
    await child.stop()
    return { unavailable: err.message.split('\n')[0] }
  }
}

/**
 * Runs the WebSocket section; `progress(text)` reports each measurement. Resolves `{ settings, rows }`,
 * one row per direction, tunnel count and contender.
 */
async function runWebSocketBench ({ seconds, rounds, tunnels = [1, 8], lollyOptions, profile, progress = () => {} }) {
  const upstream = startChild(__filename, ['upstream'])
  const proxies = []
  try {
    const { port: upstreamPort } = await upstream.ready
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}`
    const entries = []
    for (const contender of CONTENDERS) {
      const proxy = contender.key === 'direct' ? null : await startProxy(contender, upstreamUrl, contender.key === 'lolly' ? lollyOptions : undefined)
      if (proxy?.stop !== undefined) proxies.push(proxy)
      entries.push({ contender, proxy, notes: proxy?.notes ?? [], unavailable: proxy?.unavailable })
    }
    const active = entries.filter((entry) => entry.unavailable === undefined)
    const variants = DIRECTIONS.flatMap((direction) => tunnels.map((count) => ({ direction, tunnels: count })))
    const samples = new Map()
    const failures = new Map()
    const run = async (entry, variant, windowSeconds) => {
      const id = `${entry.contender.key} ${variant.direction} ${variant.tunnels}`
      try {
        return await measure({ upstream, upstreamPort, proxy: entry.proxy, ...variant, seconds: windowSeconds })
      } catch (err) {
        failures.set(id, [...(failures.get(id) ?? []), err.message.split('\n')[0]])
        return null
      }
    }

    progress(`  warm-up: ${WARMUP_SECONDS} s each way per contender...`)
    for (const entry of active) {
      for (const direction of DIRECTIONS) await run(entry, { direction, tunnels: 1 }, WARMUP_SECONDS)
    }
    failures.clear()

    const profiled = active.find((entry) => `websocket-${entry.contender.key}` === profile?.target)
    if (profiled !== undefined) await profiled.proxy.call('profileStart', profile.kind)
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        for (let i = 0; i < active.length; i++) {
          const entry = active[(i + round) % active.length]
          const sample = await run(entry, variant, seconds)
          const id = `${entry.contender.key} ${variant.direction} ${variant.tunnels}`
          if (sample === null) {
            progress(`  round ${round + 1}/${rounds} ${variant.direction} x${variant.tunnels} ${entry.contender.label}: failed (${failures.get(id).at(-1)})`)
            continue
          }
          samples.set(id, [...(samples.get(id) ?? []), sample])
          progress(`  round ${round + 1}/${rounds} ${variant.direction} x${variant.tunnels} ${entry.contender.label}: ` +
            `${sample.mibPerSecond.toFixed(0)} MiB/s${sample.proxyCpu === null ? '' : `, proxy CPU ${percent(sample.proxyCpu)}`}`)
        }
      }
    }
    if (profiled !== undefined) progress(`  ${profile.kind} profile: ${await profiled.proxy.call('profileStop', profile.target)}`)

    const rows = []
    for (const variant of variants) {
      const group = entries.map(({ contender, notes, unavailable }) => {
        const base = { key: contender.key, contender: contender.label, direction: variant.direction, tunnels: variant.tunnels }
        if (unavailable !== undefined) return { ...base, note: unavailable }
        const id = `${contender.key} ${variant.direction} ${variant.tunnels}`
        const runs = samples.get(id) ?? []
        const failed = failures.get(id) ?? []
        const rates = runs.map((s) => s.mibPerSecond)
        const allNotes = [...notes, ...(failed.length === 0 ? [] : [`${failed.length} runs failed (${failed[0]})`])]
        if (runs.length === 0) return { ...base, note: allNotes.join('; ') }
        return {
          ...base,
          mibPerSecond: median(rates),
          minMiBPerSecond: Math.min(...rates),
          maxMiBPerSecond: Math.max(...rates),
          proxyCpu: median(runs.map((s) => s.proxyCpu)),
          proxyUsPerMiB: median(runs.map((s) => s.proxyUsPerMiB)),
          proxyRssMiB: runs.every((s) => s.proxyRssMiB === null) ? null : Math.max(...runs.map((s) => s.proxyRssMiB)),
          upstreamCpu: median(runs.map((s) => s.upstreamCpu)),
          clientCpu: median(runs.map((s) => s.clientCpu)),
          rounds: runs,
          note: allNotes.join('; ')
        }
      })
      const byKey = (key) => group.find((r) => r.key === key && r.mibPerSecond !== undefined)
      const direct = byKey('direct')
      const httpProxy = byKey('http-proxy')
      const floor = byKey('tcp-relay')
      for (const row of group) {
        if (row.mibPerSecond === undefined) continue
        row.vsDirect = direct === undefined ? null : row.mibPerSecond / direct.mibPerSecond
        row.vsHttpProxy = httpProxy === undefined ? null : row.mibPerSecond / httpProxy.mibPerSecond
        row.vsFloor = floor === undefined ? null : row.mibPerSecond / floor.mibPerSecond
        row.costVsHttpProxy = httpProxy?.proxyUsPerMiB == null || row.proxyUsPerMiB === null ? null : row.proxyUsPerMiB / httpProxy.proxyUsPerMiB
      }
      rows.push(...group)
    }
    return {
      settings: { seconds, rounds, tunnels, messageBytes: MESSAGE_BYTES, window: WINDOW, settleMs: SETTLE_MS, openPauseMs: OPEN_PAUSE_MS, directions: DIRECTIONS, clientMask: 'random', perMessageDeflate: false },
      rows
    }
  } finally {
    await Promise.all([...proxies, upstream].map((child) => child.stop()))
  }
}

/** The headline: lolly over direct, 1 tunnel, each direction (the issue's target is 0.9). */
function headline (rows) {
  const lines = []
  for (const direction of DIRECTIONS) {
    const lolly = rows.find((r) => r.key === 'lolly' && r.direction === direction && r.tunnels === 1)
    if (lolly?.vsDirect === undefined || lolly.vsDirect === null) continue
    lines.push(`  ${direction}, 1 tunnel: fastify-lolly x${fixed(lolly.vsDirect, 2)} direct (target >= 0.9: ${lolly.vsDirect >= 0.9 ? 'met' : 'NOT met'}), ` +
      `x${fixed(lolly.vsHttpProxy, 2)} @fastify/http-proxy, x${fixed(lolly.vsFloor, 2)} the node:net floor; ` +
      `CPU per MiB x${fixed(lolly.costVsHttpProxy, 2)} @fastify/http-proxy's`)
  }
  return lines.length === 0 ? '' : `\n${lines.join('\n')}`
}

function formatWebSocket ({ settings, rows }) {
  const columns = [
    { title: 'direction', value: (r) => r.direction, align: 'left' },
    { title: 'tunnels', value: (r) => r.tunnels },
    { title: 'contender', value: (r) => r.contender, align: 'left' },
    { title: 'MiB/s', value: (r) => fixed(r.mibPerSecond, 0) },
    { title: 'min-max', value: (r) => r.mibPerSecond === undefined ? null : `${fixed(r.minMiBPerSecond, 0)}-${fixed(r.maxMiBPerSecond, 0)}` },
    { title: 'vs direct', value: (r) => fixed(r.vsDirect, 2) },
    { title: 'vs http-proxy', value: (r) => fixed(r.vsHttpProxy, 2) },
    { title: 'vs floor', value: (r) => fixed(r.vsFloor, 2) },
    { title: 'proxy CPU', value: (r) => percent(r.proxyCpu) },
    { title: 'proxy CPU us/MiB', value: (r) => fixed(r.proxyUsPerMiB, 0) },
    { title: 'vs http-proxy', value: (r) => fixed(r.costVsHttpProxy, 2) },
    { title: 'proxy RSS MiB', value: (r) => fixed(r.proxyRssMiB, 0) },
    { title: 'upstream CPU', value: (r) => percent(r.upstreamCpu) },
    { title: 'client CPU', value: (r) => percent(r.clientCpu) },
    { title: 'notes', value: (r) => r.note || '', align: 'left' }
  ]
  const title = `WebSocket tunnel throughput: ${settings.messageBytes / 1024} KiB binary messages, ${settings.rounds} rounds x ${settings.seconds} s, ` +
    'up = client -> upstream, down = upstream -> client, medians (CPU: share of one core; RSS: largest at a window\'s end)'
  return formatTable(title, columns, rows) + headline(rows)
}

module.exports = { runWebSocketBench, formatWebSocket, WEBSOCKET_PROFILABLE }

if (require.main === module) {
  const [role, rawConfig] = process.argv.slice(2)
  const started = role === 'upstream'
    ? upstreamChild()
    : role === 'lolly' || role === 'http-proxy' || role === 'tcp-relay'
      ? proxyChild(role, JSON.parse(rawConfig))
      : Promise.reject(new Error(`unknown role ${role} (upstream, lolly, http-proxy, tcp-relay)`))
  started.catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
