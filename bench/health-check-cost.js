'use strict'

// Health checking cost: fastify-lolly with 1000 targets (1000 listening servers in one upstream
// child), each probed every second, no traffic. Reports the checking process's CPU share and its
// event-loop delay over the window, and the probes per second the upstreams actually received.

const path = require('node:path')
const { startChild, createLoopDelayMeter } = require('./ipc.js')
const { formatTable, fixed, percent } = require('./table.js')

const UPSTREAM = path.join(__dirname, 'upstream.js')
const PROXY = path.join(__dirname, 'proxy.js')
// Lets the first rounds open their connections before the window starts: the steady state is what runs for hours.
const SETTLE_MS = 2_000

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function runHealthCheckBench ({ targetCount, seconds, profile, lollyOptions }) {
  const upstream = startChild(UPSTREAM, [String(targetCount)])
  let checker
  try {
    const { ports } = await upstream.ready
    const targets = ports.map((port) => `http://127.0.0.1:${port}`)
    checker = startChild(PROXY, ['lolly-round-robin', JSON.stringify({ targets, activeHealth: true, options: lollyOptions })])
    const info = await checker.ready
    const base = { targets: targetCount, interval: '1 s', seconds }
    if (info.unavailable !== undefined) return { ...base, note: `not measured: ${info.unavailable}` }
    if (!info.notes.includes('active health every 1 s')) return { ...base, note: `not measured: ${info.notes.join('; ')}` }

    await sleep(SETTLE_MS)
    const before = await upstream.call('counters')
    const profiling = profile?.target === 'health-checker'
    if (profiling) await checker.call('profileStart', profile.kind)
    // The bench's own (idle) process measures its loop delay over the same window: on a shared
    // machine, the delay that descheduling alone causes, to read the checker's against.
    const idleLoop = createLoopDelayMeter()
    idleLoop.start()
    await Promise.all([checker.call('cpuStart'), checker.call('loopStart'), upstream.call('cpuStart')])
    await sleep(seconds * 1000)
    const [cpu, loop, upstreamCpu] = await Promise.all([checker.call('cpuStop'), checker.call('loopStop'), upstream.call('cpuStop')])
    const idle = idleLoop.stop()
    if (profiling) console.log(`  ${profile.kind} profile: ${await checker.call('profileStop', profile.target)}`)
    const after = await upstream.call('counters')
    const probesPerSecond = (after.probes - before.probes) / (cpu.wallMs / 1000)
    // An accepted option is not proof that a checker ran: the upstreams count what they were asked.
    const notes = probesPerSecond < targetCount * 0.5 ? [...info.notes, 'but the upstreams saw almost no probes'] : info.notes
    return {
      ...base,
      cpuShare: cpu.share,
      loopP50: loop.p50,
      loopP99: loop.p99,
      loopMax: loop.max,
      idleLoopP99: idle.p99,
      probesPerSecond,
      // Probes that could not reuse a kept-alive connection.
      connectionsPerSecond: (after.connections - before.connections) / (cpu.wallMs / 1000),
      upstreamCpu: upstreamCpu.share,
      note: notes.join('; ')
    }
  } finally {
    await Promise.all([checker?.stop(), upstream.stop()])
  }
}

function formatHealthCheck (result) {
  const columns = [
    { title: 'targets', value: (r) => r.targets },
    { title: 'interval', value: (r) => r.interval },
    { title: 'window s', value: (r) => r.seconds },
    { title: 'probes/s seen', value: (r) => fixed(r.probesPerSecond, 0) },
    { title: 'new conns/s', value: (r) => fixed(r.connectionsPerSecond, 0) },
    { title: 'checker CPU', value: (r) => percent(r.cpuShare, 1) },
    { title: 'loop delay p50 ms', value: (r) => fixed(r.loopP50, 2) },
    { title: 'p99 ms', value: (r) => fixed(r.loopP99, 2) },
    { title: 'max ms', value: (r) => fixed(r.loopMax, 2) },
    { title: 'idle process p99 ms', value: (r) => fixed(r.idleLoopP99, 2) },
    { title: 'upstream CPU', value: (r) => percent(r.upstreamCpu, 1) },
    { title: 'notes', value: (r) => r.note || '', align: 'left' }
  ]
  return formatTable('Health checking cost: fastify-lolly, no traffic (CPU: share of one core)', columns, [result])
}

module.exports = { runHealthCheckBench, formatHealthCheck }
