'use strict'

// What fastify-lolly costs over bare @fastify/reply-from, and what metrics cost over lolly: CPU per
// request of five proxies in one child process (bench/one-process-apps.js), loaded in turn, round
// after round, each round starting with a different one (so each takes each place in the order
// equally often when the rounds are a multiple of their number: five, the modes' 5 and 10 rounds;
// six with --baseline, give --rounds=6 or 12), with a full GC before each. Each answer is the median over rounds of
// that round's ratio, so neighbours that come and go hit both sides of it alike. Bare reply-from
// against itself is the noise floor of the method. With `--baseline=<dir>` (a checkout of another
// version, built), that version's fastify-lolly is one more app, and a last row gives this build's CPU
// per request against it: how a change moved the cost, measured as the change is judged. With
// `--otel`, an OpenTelemetry SDK is registered in the apps' process and @fastify/otel is on every
// fastify-lolly app (a server span per request, and fastify-lolly's client span per try).

const path = require('node:path')
const { startChild } = require('./ipc.js')
const { runLoad } = require('./load.js')
const { median } = require('./median.js')
const { formatTable, fixed } = require('./table.js')
const { measure } = require('./throughput.js')
const { startUpstreams } = require('./upstreams.js')

const APPS = path.join(__dirname, 'one-process-apps.js')
const ROWS = [
  { app: 'bare', label: '@fastify/reply-from, one base', base: 'bare' },
  { app: 'bareAgain', label: 'the same again (noise floor)', base: 'bare' },
  { app: 'lolly', label: 'fastify-lolly, round-robin', base: 'bare' },
  { app: 'lollyMetrics', label: 'fastify-lolly, metrics on, scraped every 1 s', base: 'lolly' },
  { app: 'floor', label: 'Fastify + undici dispatch, nothing else (floor)', base: 'bare' },
  // What fastify-lolly's own layers cost: balancing, health, failover, reply-from's behaviour.
  { app: 'lolly', label: 'fastify-lolly vs the floor', base: 'floor' }
]

const BASELINE_ROWS = [
  { app: 'lollyBaseline', label: 'fastify-lolly at --baseline, round-robin', base: 'bare' },
  { app: 'lolly', label: 'fastify-lolly (this build) vs --baseline', base: 'lollyBaseline' }
]

async function runOneProcessCostBench ({ connections, seconds, rounds, warmupSeconds, baseline, otel = false, progress }) {
  const { children: upstreams, listening } = startUpstreams(3)
  const rowsToReport = baseline === undefined ? ROWS : [...ROWS, ...BASELINE_ROWS]
  // Each app is measured once a round, in a rotating order; rows only say which two to compare.
  const measured = [...new Set(rowsToReport.map((row) => row.app))].map((app) => rowsToReport.find((row) => row.app === app))
  let apps
  try {
    const { targets } = await listening
    apps = startChild(APPS, [JSON.stringify({ targets, baseline, otel })], ['--expose-gc'])
    const appPorts = (await apps.ready).ports
    for (const { app } of measured) await runLoad({ url: `http://127.0.0.1:${appPorts[app]}/payload`, connections, seconds: warmupSeconds })
    const samples = Object.fromEntries(measured.map(({ app }) => [app, []]))
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < measured.length; i++) {
        const { app, label } = measured[(i + round) % measured.length]
        await apps.call('gc')
        const sample = await measure({ port: appPorts[app], call: apps.call }, upstreams, connections, seconds)
        samples[app].push(sample)
        progress(`  round ${round + 1}/${rounds} ${label}: ${sample.proxyUsPerRequest.toFixed(1)} us/req`)
      }
    }
    const rows = rowsToReport.map(({ app, label, base }) => {
      const perRound = samples[app].map((sample, i) => sample.proxyUsPerRequest / samples[base][i].proxyUsPerRequest)
      return {
        app,
        label,
        base,
        rps: median(samples[app].map((s) => s.rps)),
        usPerRequest: median(samples[app].map((s) => s.proxyUsPerRequest)),
        ratio: median(perRound),
        ratioMin: Math.min(...perRound),
        ratioMax: Math.max(...perRound),
        errors: samples[app].reduce((sum, s) => sum + s.non2xx + s.errors, 0),
        rounds: samples[app]
      }
    })
    return { settings: { connections, seconds, rounds, warmupSeconds, baseline: baseline ?? null, otel }, rows }
  } finally {
    await Promise.all([apps, ...upstreams].filter((child) => child !== undefined).map((child) => child.stop()))
  }
}

function formatOneProcessCost ({ settings, rows }) {
  const labelOf = (app) => rows.find((r) => r.app === app).label
  const isBase = (r) => r.app === r.base
  const columns = [
    { title: 'proxy (all in one process)', value: (r) => r.label, align: 'left' },
    { title: 'req/s', value: (r) => fixed(r.rps, 0) },
    { title: 'CPU us/req', value: (r) => fixed(r.usPerRequest, 1) },
    { title: 'vs', value: (r) => isBase(r) ? '-' : labelOf(r.base), align: 'left' },
    { title: 'median', value: (r) => isBase(r) ? '-' : fixed(r.ratio, 3) },
    { title: 'rounds min-max', value: (r) => isBase(r) ? '-' : `${fixed(r.ratioMin, 2)}-${fixed(r.ratioMax, 2)}` },
    { title: 'errors', value: (r) => r.errors }
  ]
  const title = `CPU per request in one process${settings.otel ? ' (OpenTelemetry SDK and @fastify/otel on the fastify-lolly apps)' : ''}: ` +
    `${settings.connections} connections, ${settings.rounds} rounds x ${settings.seconds} s, ` +
    'each round\'s ratio to the row named'
  return formatTable(title, columns, rows)
}

module.exports = { runOneProcessCostBench, formatOneProcessCost }
