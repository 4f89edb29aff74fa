'use strict'

// DNS discovery: what following a DNS name costs and how fast a change is followed. A real DNS
// server (dnsmasq, through the tests' harness test/helpers/dnsmasq.ts) answers on 127.0.0.1.
// - Cost: fastify-lolly with one `dns` entry whose name has 1000 A records (127.1.x.y, nothing listens
//   there: no traffic is sent and no health checks run), looked up again every second (TTL 0,
//   minInterval = maxInterval = 1000 ms). Reports the lolly process's CPU share and event-loop delay
//   (two windows of the same length, one for each), the lookups per second it actually did
//   (app.lolly.sources) and the targets in its pool; dnsmasq's CPU share from /proc, so the DNS
//   server's side shows apart.
// - Follow time: two A records, each address a listening server on the same port; one address is
//   replaced by another (dnsmasq re-reads its records) and a request every 10 ms through the proxy
//   tells when the first one reaches the new address. Default resolver settings, TTL 0.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { startChild, createLoopDelayMeter } = require('./ipc.js')
const { median } = require('./median.js')
const { formatTable, fixed, percent } = require('./table.js')

const ROOT = path.join(__dirname, '..')
const HARNESS = path.join(ROOT, 'test', 'helpers', 'dnsmasq.ts')
const PROXY = path.join(__dirname, 'proxy.js')
const ADDRESS_UPSTREAM = path.join(__dirname, 'address-upstream.js')
const MISSING = 'dnsmasq is not installed (apt-get install dnsmasq-base)'

const MANY_NAME = 'many.lolly.test'
const MANY_PORT = 8080
const FOLLOW_NAME = 'follow.lolly.test'
// The address that stays in the follow name's answer; each change swaps the other one for a new one.
const STABLE_ADDRESS = '127.0.0.2'
const followAddress = (i) => `127.0.0.${10 + i}`
// TTL of every answer: 0, so minInterval alone sets when lolly looks again.
const TTL = 0
const COST_INTERVAL_MS = 1_000
// As the health bench: the first lookups (and the pool's first 1000 targets) are done before the window.
const SETTLE_MS = 2_000
const REQUEST_EVERY_MS = 10
const MAX_IN_FLIGHT = 8
// Far beyond the defaults' worst case (minInterval 1 s, one lookup): a change not followed by then is a failure.
const FOLLOW_TIMEOUT_MS = 10_000
// The wait before each change is drawn from this range, so changes land anywhere in lolly's 1 s lookup cycle.
const CHANGE_GAP_MS = [200, 1_200]

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The tests' dnsmasq harness (TypeScript), loaded through the TypeScript register hook the tests run
 * with (tap's ts-node fork, transpile only), with this repository's tsconfig whatever the cwd.
 */
function loadHarness () {
  require('@isaacs/ts-node-temp-fork-for-pr-2009').register({ transpileOnly: true, projectSearchDir: ROOT })
  return require(HARNESS)
}

let ticksPerSecond
/** CPU time of `pid` and of its children it has reaped (dnsmasq forks one per TCP query), ms; null without /proc. */
function processCpuMs (pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after "(comm) ": [0] is field 3 (state); utime, stime, cutime, cstime are fields 14 to 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
    if (ticksPerSecond === undefined) {
      try {
        ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
      } catch {
        ticksPerSecond = 100
      }
    }
    return Number.isFinite(ticks) ? ticks * 1000 / ticksPerSecond : null
  } catch {
    return null
  }
}

/** The dns source of a proxy child, and its pool's size. */
async function dnsSource (lolly) {
  const { sources, poolTargets } = await lolly.call('discovery')
  return { source: sources?.find((s) => s.type === 'dns'), poolTargets }
}

/** The options of a fastify-lolly that follows `name` through `dns`, with `resolver` settings. */
function lollyConfig (dns, url, resolver, lollyOptions) {
  return JSON.stringify({
    targets: [{ dns: url, family: 4 }],
    activeHealth: false,
    options: { ...lollyOptions, resolver: { ...lollyOptions?.resolver, ...resolver, servers: [dns.server] } }
  })
}

async function measureCost (dns, { records, seconds, lollyOptions }) {
  const base = { records, interval: `${COST_INTERVAL_MS / 1000} s`, ttl: TTL, seconds }
  const resolver = { minInterval: COST_INTERVAL_MS, maxInterval: COST_INTERVAL_MS }
  const lolly = startChild(PROXY, ['lolly-round-robin', lollyConfig(dns, `http://${MANY_NAME}:${MANY_PORT}`, resolver, lollyOptions)])
  try {
    const info = await lolly.ready
    if (info.unavailable !== undefined) return { ...base, note: `not measured: ${info.unavailable}` }
    await sleep(SETTLE_MS)
    // The CPU window runs without the loop-delay meter: its 10 ms timer alone costs an idle node
    // process ~0.7% of a core, about half of what is measured here. The loop delay gets its own window.
    const dnsStartMs = processCpuMs(dns.pid)
    const dnsStartAt = process.hrtime.bigint()
    const [before] = await Promise.all([dnsSource(lolly), lolly.call('cpuStart')])
    await sleep(seconds * 1000)
    const [after, cpu] = await Promise.all([dnsSource(lolly), lolly.call('cpuStop')])
    const dnsEndMs = processCpuMs(dns.pid)
    const dnsWallMs = Number(process.hrtime.bigint() - dnsStartAt) / 1e6
    if (before.source === undefined || after.source === undefined) return { ...base, note: 'not measured: the proxy reports no dns source (app.lolly.sources)' }

    // The bench's own idle process over the loop window: the delay descheduling alone causes on a shared machine.
    const idleLoop = createLoopDelayMeter()
    idleLoop.start()
    await lolly.call('loopStart')
    await sleep(seconds * 1000)
    const loop = await lolly.call('loopStop')
    const idle = idleLoop.stop()

    const lookups = {}
    for (const key of ['ok', 'empty', 'failed']) lookups[key] = after.source.lookups[key] - before.source.lookups[key]
    const lookupCount = lookups.ok + lookups.empty + lookups.failed
    const notes = []
    if (lookups.failed > 0) notes.push(`${lookups.failed} lookups failed (${after.source.lastError?.message ?? 'no error recorded'})`)
    if (lookups.empty > 0) notes.push(`${lookups.empty} lookups answered empty`)
    if (after.source.targets !== records) notes.push(`the source lists ${after.source.targets} targets, not ${records}`)
    // A window holds 4 or 5 lookups a second apart: the time between the first and the last good
    // answer says how often lookups came more finely than their count does.
    const okInterval = lookups.ok > 0 && after.source.lastAnswerAt !== null && before.source.lastAnswerAt !== null
      ? (after.source.lastAnswerAt - before.source.lastAnswerAt) / lookups.ok
      : null
    return {
      ...base,
      cpuShare: cpu.share,
      cpuMs: cpu.cpuUs / 1000,
      loopP50: loop.p50,
      loopP99: loop.p99,
      loopMax: loop.max,
      idleLoopP99: idle.p99,
      lookups,
      lookupsPerSecond: lookupCount / (cpu.wallMs / 1000),
      lookupIntervalMs: okInterval,
      // Everything the process did over the window, per lookup (an idle fastify-lolly adds next to
      // nothing): its CPU share times the time between two lookups.
      cpuMsPerLookup: okInterval !== null && lookups.failed + lookups.empty === 0
        ? cpu.share * okInterval
        : (lookupCount === 0 ? null : cpu.cpuUs / 1000 / lookupCount),
      targets: after.source.targets,
      poolTargets: after.poolTargets,
      dnsmasqCpuShare: dnsStartMs === null || dnsEndMs === null ? null : (dnsEndMs - dnsStartMs) / dnsWallMs,
      // /proc counts CPU in clock ticks (10 ms): the smallest share the window can show.
      dnsmasqCpuResolution: dnsStartMs === null ? null : 1000 / ticksPerSecond / dnsWallMs,
      note: notes.join('; ')
    }
  } finally {
    await lolly.stop()
  }
}

/**
 * GET `url` every REQUEST_EVERY_MS (at most MAX_IN_FLIGHT at once); remembers when each upstream
 * address (the answer's body) first answered. `waitFor(address, since)` resolves with the time of
 * its first answer at or after `since`, or null after FOLLOW_TIMEOUT_MS.
 */
function startTicker (url) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT })
  const firstSeen = new Map()
  const waiters = new Set()
  const counts = { sent: 0, answered: 0, errors: 0, skipped: 0 }
  let inFlight = 0

  const seen = (address, at) => {
    if (!firstSeen.has(address)) firstSeen.set(address, at)
    for (const waiter of waiters) {
      if (waiter.address === address) waiter.resolve(at)
    }
  }
  const tick = () => {
    if (inFlight >= MAX_IN_FLIGHT) {
      counts.skipped++
      return
    }
    inFlight++
    counts.sent++
    let done = false
    const finish = (address) => {
      if (done) return
      done = true
      inFlight--
      if (address === undefined) counts.errors++
      else {
        counts.answered++
        seen(address, Date.now())
      }
    }
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => { body += chunk })
      res.on('end', () => finish(res.statusCode === 200 ? body : undefined))
      res.on('error', () => finish(undefined))
    })
    req.on('error', () => finish(undefined))
  }
  const timer = setInterval(tick, REQUEST_EVERY_MS)

  return {
    waitFor (address, since) {
      const at = firstSeen.get(address)
      if (at !== undefined && at >= since) return Promise.resolve(at)
      return new Promise((resolve) => {
        const waiter = {
          address,
          resolve: (value) => {
            clearTimeout(waiter.timer)
            waiters.delete(waiter)
            resolve(value)
          }
        }
        waiter.timer = setTimeout(() => waiter.resolve(null), FOLLOW_TIMEOUT_MS)
        waiters.add(waiter)
      })
    },
    stop () {
      clearInterval(timer)
      for (const waiter of waiters) waiter.resolve(null)
      agent.destroy()
      return counts
    }
  }
}

async function measureFollow (dns, { changes, lollyOptions }) {
  const base = { changes, ttl: TTL, requestEveryMs: REQUEST_EVERY_MS }
  const addresses = [STABLE_ADDRESS, ...Array.from({ length: changes + 1 }, (_, i) => followAddress(i))]
  const upstream = startChild(ADDRESS_UPSTREAM, [JSON.stringify({ addresses })])
  let lolly
  try {
    const { port } = await upstream.ready
    await dns.setRecords({ a: { [FOLLOW_NAME]: [STABLE_ADDRESS, followAddress(0)] } })
    // The resolver's defaults (minInterval 1000 ms): only the DNS server is given.
    lolly = startChild(PROXY, ['lolly-round-robin', lollyConfig(dns, `http://${FOLLOW_NAME}:${port}`, {}, lollyOptions)])
    const info = await lolly.ready
    if (info.unavailable !== undefined) return { ...base, note: `not measured: ${info.unavailable}` }

    const ticker = startTicker(`http://127.0.0.1:${info.port}/follow`)
    const samples = []
    let counts
    try {
      if (await ticker.waitFor(followAddress(0), 0) === null) return { ...base, note: `not measured: no request reached ${followAddress(0)} of the first answer` }
      for (let i = 1; i <= changes; i++) {
        await sleep(CHANGE_GAP_MS[0] + Math.random() * (CHANGE_GAP_MS[1] - CHANGE_GAP_MS[0]))
        const changedAt = Date.now()
        // dnsmasq re-reads its records at once (SIGHUP); this resolves once it serves them.
        await dns.setRecords({ a: { [FOLLOW_NAME]: [STABLE_ADDRESS, followAddress(i)] } })
        const servedAt = Date.now()
        const reachedAt = await ticker.waitFor(followAddress(i), changedAt)
        samples.push({ followMs: reachedAt === null ? null : reachedAt - changedAt, servedMs: servedAt - changedAt })
      }
    } finally {
      counts = ticker.stop()
    }
    const followed = samples.map((s) => s.followMs).filter((ms) => ms !== null)
    const timeouts = samples.length - followed.length
    const notes = []
    if (lollyOptions?.resolver !== undefined) notes.push(`resolver ${JSON.stringify(lollyOptions.resolver)} from --lolly-options`)
    if (timeouts > 0) notes.push(`${timeouts} changes not followed within ${FOLLOW_TIMEOUT_MS} ms`)
    if (counts.errors > 0) notes.push(`${counts.errors} requests failed`)
    if (counts.skipped > 0) notes.push(`${counts.skipped} ticks skipped (${MAX_IN_FLIGHT} requests in flight)`)
    return {
      ...base,
      followed: followed.length,
      medianMs: median(followed),
      minMs: followed.length === 0 ? null : Math.min(...followed),
      maxMs: followed.length === 0 ? null : Math.max(...followed),
      // How long dnsmasq took to serve a change (re-read on SIGHUP, checked by a query), within each follow time.
      medianServedMs: median(samples.map((s) => s.servedMs)),
      samples,
      requests: counts.sent,
      clientErrors: counts.errors,
      note: notes.join('; ')
    }
  } finally {
    await Promise.all([lolly?.stop(), upstream.stop()])
  }
}

async function runDiscoveryBench ({ records, seconds, changes, lollyOptions, progress = () => {} }) {
  const notMeasured = (why) => ({
    cost: { records, interval: `${COST_INTERVAL_MS / 1000} s`, ttl: TTL, seconds, note: `not measured: ${why}` },
    follow: { changes, ttl: TTL, requestEveryMs: REQUEST_EVERY_MS, note: `not measured: ${why}` }
  })
  const harness = loadHarness()
  let dns
  try {
    dns = await harness.startDnsmasq({ a: { [MANY_NAME]: harness.manyIPv4(records) } }, { ttl: TTL })
  } catch (err) {
    if (err.message.startsWith(harness.DNSMASQ_MISSING)) return notMeasured(MISSING)
    throw err
  }
  try {
    progress(`  cost: ${records} A records looked up every second, ${seconds} s...`)
    const cost = await measureCost(dns, { records, seconds, lollyOptions })
    progress(`  follow time: ${changes} changes...`)
    const follow = await measureFollow(dns, { changes, lollyOptions })
    return { cost, follow }
  } finally {
    await dns.close()
  }
}

function formatDiscovery (result) {
  const costColumns = [
    { title: 'A records', value: (r) => r.records },
    { title: 'interval', value: (r) => r.interval },
    { title: 'window s', value: (r) => r.seconds },
    { title: 'lookups/s', value: (r) => fixed(r.lookupsPerSecond, 2) },
    { title: 'one every ms', value: (r) => fixed(r.lookupIntervalMs, 0) },
    { title: 'targets', value: (r) => r.targets },
    { title: 'lolly CPU', value: (r) => percent(r.cpuShare, 2) },
    { title: 'CPU ms/lookup', value: (r) => fixed(r.cpuMsPerLookup, 2) },
    { title: 'loop delay p50 ms', value: (r) => fixed(r.loopP50, 2) },
    { title: 'p99 ms', value: (r) => fixed(r.loopP99, 2) },
    { title: 'max ms', value: (r) => fixed(r.loopMax, 2) },
    { title: 'idle process p99 ms', value: (r) => fixed(r.idleLoopP99, 2) },
    { title: 'dnsmasq CPU', value: (r) => r.dnsmasqCpuShare === 0 ? `<${percent(r.dnsmasqCpuResolution, 2)}` : percent(r.dnsmasqCpuShare, 2) },
    { title: 'notes', value: (r) => r.note || '', align: 'left' }
  ]
  const followColumns = [
    { title: 'changes', value: (r) => r.changes },
    { title: 'followed', value: (r) => r.followed },
    { title: 'median ms', value: (r) => fixed(r.medianMs, 0) },
    { title: 'min ms', value: (r) => fixed(r.minMs, 0) },
    { title: 'max ms', value: (r) => fixed(r.maxMs, 0) },
    { title: 'dnsmasq serves ms', value: (r) => fixed(r.medianServedMs, 0) },
    { title: 'requests', value: (r) => r.requests },
    { title: 'client errors', value: (r) => r.clientErrors },
    { title: 'notes', value: (r) => r.note || '', align: 'left' }
  ]
  return [
    formatTable(`DNS discovery cost: fastify-lolly following one name, no traffic, no health checks, TTL ${TTL} (CPU: share of one core)`, costColumns, [result.cost]),
    formatTable(`DNS discovery follow time: a record replaced -> first request on the new address (resolver defaults, TTL ${TTL}, a request every ${REQUEST_EVERY_MS} ms)`, followColumns, [result.follow])
  ].join('\n')
}

module.exports = { runDiscoveryBench, formatDiscovery }
