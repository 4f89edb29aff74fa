'use strict'

// What Prometheus metrics cost the proxy: CPU per request with `metrics` on against off, measured on
// three apps in one child process (bench/metrics-apps.js) loaded in turn, round after round, each
// round starting with a different app. The answer is the median over rounds of each round's ratio:
// `on` / `off` is the cost, `control` / `off` (two identical apps) is the noise floor of the method.

const path = require('node:path')
const { startChild } = require('./ipc.js')
const { runLoad } = require('./load.js')
const { median } = require('./median.js')
const { formatTable, fixed } = require('./table.js')
const { measure } = require('./throughput.js')

const UPSTREAM = path.join(__dirname, 'upstream.js')
const APPS = path.join(__dirname, 'metrics-apps.js')
const ORDER = ['off', 'control', 'on']

async function runMetricsCostBench ({ connections, seconds, rounds, warmupSeconds, progress }) {
  const upstreams = [startChild(UPSTREAM, ['1']), startChild(UPSTREAM, ['1']), startChild(UPSTREAM, ['1'])]
  let apps
  try {
    const ports = (await Promise.all(upstreams.map((u) => u.ready))).map((info) => info.ports[0])
    apps = startChild(APPS, [JSON.stringify({ targets: ports.map((port) => `http://127.0.0.1:${port}`) })])
    const appPorts = (await apps.ready).ports
    const running = Object.fromEntries(ORDER.map((name) => [name, { port: appPorts[name], call: apps.call }]))
    for (const name of ORDER) await runLoad({ url: `http://127.0.0.1:${appPorts[name]}/payload`, connections, seconds: warmupSeconds })
    const samples = { off: [], control: [], on: [] }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < ORDER.length; i++) {
        const name = ORDER[(i + round) % ORDER.length]
        const sample = await measure(running[name], upstreams, connections, seconds)
        samples[name].push(sample)
        progress(`  round ${round + 1}/${rounds} metrics ${name}: ${sample.proxyUsPerRequest.toFixed(1)} us/req`)
      }
    }
    const ratios = (name) => samples[name].map((sample, i) => sample.proxyUsPerRequest / samples.off[i].proxyUsPerRequest)
    const rows = ORDER.map((name) => {
      const perRound = ratios(name)
      return {
        app: name,
        usPerRequest: median(samples[name].map((s) => s.proxyUsPerRequest)),
        rps: median(samples[name].map((s) => s.rps)),
        ratio: median(perRound),
        ratioMin: Math.min(...perRound),
        ratioMax: Math.max(...perRound),
        errors: samples[name].reduce((sum, s) => sum + s.non2xx + s.errors, 0),
        rounds: samples[name]
      }
    })
    return { settings: { connections, seconds, rounds, warmupSeconds }, rows }
  } finally {
    await Promise.all([apps, ...upstreams].filter((child) => child !== undefined).map((child) => child.stop()))
  }
}

const LABELS = {
  off: 'metrics off',
  control: 'metrics off, second app (noise floor)',
  on: 'metrics on, scraped every 1 s'
}

function formatMetricsCost ({ settings, rows }) {
  const columns = [
    { title: 'app (one process)', value: (r) => LABELS[r.app], align: 'left' },
    { title: 'req/s', value: (r) => fixed(r.rps, 0) },
    { title: 'CPU us/req', value: (r) => fixed(r.usPerRequest, 1) },
    { title: 'vs off, median', value: (r) => fixed(r.ratio, 3) },
    { title: 'rounds min-max', value: (r) => `${fixed(r.ratioMin, 2)}-${fixed(r.ratioMax, 2)}` },
    { title: 'errors', value: (r) => r.errors }
  ]
  const title = `Metrics cost: ${settings.connections} connections, ${settings.rounds} rounds x ${settings.seconds} s, ` +
    'proxy CPU per request, each round\'s ratio to metrics off'
  return formatTable(title, columns, rows)
}

module.exports = { runMetricsCostBench, formatMetricsCost }
