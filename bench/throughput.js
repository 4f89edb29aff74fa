'use strict'

// Proxy throughput and latency: every contender in its own child process in front of the same three
// upstream processes, driven in turn by autocannon from the parent, in interleaved rounds (each
// round starts with a different contender) so that a noisy neighbour hurts all of them alike.
// A row reports the medians of its rounds and its ratio to row 1, bare reply-from.

const path = require('node:path')
const { startChild } = require('./ipc.js')
const { runLoad } = require('./load.js')
const { median } = require('./median.js')
const { startCaddy } = require('./caddy.js')
const { startNginx } = require('./nginx.js')
const { startUpstreams } = require('./upstreams.js')
const { formatTable, fixed, percent } = require('./table.js')

const PROXY = path.join(__dirname, 'proxy.js')

const CONTENDERS = [
  { key: 'reply-from', label: '@fastify/reply-from, one base' },
  { key: 'reply-from-balanced', label: '@fastify/reply-from, base array' },
  { key: 'http-proxy', label: 'http-proxy, keep-alive, round robin' },
  { key: 'lolly-round-robin', label: 'fastify-lolly, round-robin' },
  { key: 'lolly-least-latency', label: 'fastify-lolly, least-latency' },
  { key: 'fastify-undici-floor', label: 'Fastify + undici dispatch, nothing else (floor)' },
  { key: 'nginx', label: 'nginx (outside reference)' },
  { key: 'caddy', label: 'Caddy, GOMAXPROCS=1 (outside reference)' }
]
// Not Node processes of ours: no profile, no lolly options.
const OUTSIDE = new Set(['nginx', 'caddy'])

async function startContender (contender, targets, ports, lollyOptions) {
  if (contender.key === 'nginx') return startNginx(ports)
  if (contender.key === 'caddy') return startCaddy(ports)
  const child = startChild(PROXY, [contender.key, JSON.stringify({ targets, options: lollyOptions })])
  const info = await child.ready
  if (info.unavailable !== undefined) {
    await child.stop()
    return { unavailable: info.unavailable }
  }
  return { ...child, port: info.port, notes: info.notes }
}

/** One measured run: load on `running`, CPU of it and of every upstream over the same window. */
async function measure (running, upstreams, connections, seconds) {
  await Promise.all([running.call('cpuStart'), ...upstreams.map((u) => u.call('cpuStart'))])
  const loadCpuStart = process.cpuUsage()
  const loadStartedAt = process.hrtime.bigint()
  const load = await runLoad({ url: `http://127.0.0.1:${running.port}/payload`, connections, seconds })
  const loadCpu = process.cpuUsage(loadCpuStart)
  const loadWallUs = Number(process.hrtime.bigint() - loadStartedAt) / 1e3
  const [proxyCpu, ...upstreamCpu] = await Promise.all([running.call('cpuStop'), ...upstreams.map((u) => u.call('cpuStop'))])
  return {
    ...load,
    proxyCpu: proxyCpu.share,
    upstreamCpu: upstreamCpu.map((cpu) => cpu.share),
    // The proxy's CPU time per request: what it costs, whatever share of a core it was given on a
    // shared machine. Steadier than req/s when neighbours compete for the cores.
    proxyUsPerRequest: proxyCpu.cpuUs / load.responses,
    // The load generator's own share: near 100% would mean it, not the proxy, set the pace.
    loadCpu: (loadCpu.user + loadCpu.system) / loadWallUs
  }
}

/**
 * Runs the throughput bench; `progress(text)` reports each run as it ends. Resolves
 * `{ settings, rows }`, one row per contender (unavailable ones have `note` and no numbers).
 */
async function runThroughputBench ({ connections, seconds, rounds, warmupSeconds, profile, contenders, lollyOptions, progress }) {
  const chosen = contenders === undefined ? CONTENDERS : CONTENDERS.filter((c, i) => i === 0 || contenders.includes(c.key))
  if (contenders !== undefined) {
    const unknown = contenders.filter((key) => !CONTENDERS.some((c) => c.key === key))
    if (unknown.length > 0) throw new Error(`unknown contender ${unknown.join(', ')} (known: ${CONTENDERS.map((c) => c.key).join(', ')})`)
  }
  const { children: upstreams, listening } = startUpstreams(3)
  const started = []
  try {
    const { ports, targets } = await listening
    const entries = []
    for (const contender of chosen) {
      const running = await startContender(contender, targets, ports, lollyOptions)
      if (running.stop !== undefined) started.push(running)
      entries.push({ contender, running, samples: [] })
    }
    const active = entries.filter((entry) => entry.running.unavailable === undefined)

    for (const entry of active) {
      await runLoad({ url: `http://127.0.0.1:${entry.running.port}/payload`, connections, seconds: warmupSeconds })
    }
    // With --cpu-prof or --heap-prof, the profile covers the measured rounds (not startup or warm-up).
    const profiled = active.find((entry) => entry.contender.key === profile?.target)
    if (profiled !== undefined) await profiled.running.call('profileStart', profile.kind)
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < active.length; i++) {
        const entry = active[(i + round) % active.length]
        const sample = await measure(entry.running, upstreams, connections, seconds)
        entry.samples.push(sample)
        progress(`  round ${round + 1}/${rounds} ${entry.contender.label}: ${sample.rps.toFixed(0)} req/s, p99 ${sample.p99?.toFixed(2)} ms`)
      }
    }

    if (profiled !== undefined) progress(`  ${profile.kind} profile: ${await profiled.running.call('profileStop', profile.target)}`)

    const rows = entries.map(({ contender, running, samples }) => {
      if (running.unavailable !== undefined) return { key: contender.key, contender: contender.label, note: running.unavailable }
      const upstreamShares = samples.map((s) => s.upstreamCpu)
      return {
        key: contender.key,
        contender: contender.label,
        rps: median(samples.map((s) => s.rps)),
        p50: median(samples.map((s) => s.p50)),
        p99: median(samples.map((s) => s.p99)),
        proxyCpu: median(samples.map((s) => s.proxyCpu)),
        proxyUsPerRequest: median(samples.map((s) => s.proxyUsPerRequest)),
        loadCpu: median(samples.map((s) => s.loadCpu)),
        // Each upstream's median share, so a lopsided balancer shows.
        upstreamCpu: [0, 1, 2].map((i) => median(upstreamShares.map((shares) => shares[i]))),
        errors: samples.reduce((sum, s) => sum + s.non2xx + s.errors, 0),
        rounds: samples,
        note: running.notes.join('; ')
      }
    })
    const bare = rows[0]
    for (const row of rows) {
      if (row.rps === undefined || bare.rps === undefined) continue
      row.rpsRatio = row.rps / bare.rps
      row.p99Ratio = row.p99 / bare.p99
      row.costRatio = row.proxyUsPerRequest / bare.proxyUsPerRequest
    }
    return { settings: { connections, seconds, rounds, warmupSeconds, payloadBytes: 1024, upstreams: 3 }, rows }
  } finally {
    await Promise.all([...started, ...upstreams].map((child) => child.stop()))
  }
}

function formatThroughput ({ settings, rows }) {
  const columns = [
    { title: 'contender', value: (r) => r.contender, align: 'left' },
    { title: 'req/s', value: (r) => fixed(r.rps, 0) },
    { title: 'vs row 1', value: (r) => fixed(r.rpsRatio, 2) },
    { title: 'p50 ms', value: (r) => fixed(r.p50, 2) },
    { title: 'p99 ms', value: (r) => fixed(r.p99, 2) },
    { title: 'vs row 1', value: (r) => fixed(r.p99Ratio, 2) },
    { title: 'proxy CPU', value: (r) => percent(r.proxyCpu) },
    { title: 'CPU us/req', value: (r) => fixed(r.proxyUsPerRequest, 1) },
    { title: 'vs row 1', value: (r) => fixed(r.costRatio, 2) },
    { title: 'upstreams CPU', value: (r) => r.upstreamCpu === undefined ? null : r.upstreamCpu.map((share) => percent(share)).join('/') },
    { title: 'autocannon CPU', value: (r) => percent(r.loadCpu) },
    { title: 'errors', value: (r) => r.errors ?? null },
    { title: 'notes', value: (r) => r.note || '', align: 'left' }
  ]
  const title = `Proxy throughput: ${settings.connections} connections, ${settings.rounds} rounds x ${settings.seconds} s, ` +
    '1 KiB body, 3 upstreams, medians (CPU: share of one core)'
  return formatTable(title, columns, rows.map((row, i) => ({ ...row, contender: `${i + 1}. ${row.contender}` })))
}

/** Contenders that run in a Node child, so `--cpu-prof=<key>` and `--heap-prof=<key>` can profile them. */
const NODE_CONTENDERS = CONTENDERS.filter((c) => !OUTSIDE.has(c.key)).map((c) => c.key)

module.exports = { runThroughputBench, formatThroughput, measure, NODE_CONTENDERS }
