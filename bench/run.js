'use strict'

// `npm run bench [-- --quick] [-- --only=throughput,pick,health,failover,cost,discovery,websocket] [-- --contenders=<key,...>]
//   [-- --rounds=N] [-- --cpu-prof=<contender>|health-checker|websocket-<contender>] [-- --heap-prof=<same>]
//   [-- --lolly-options='{"xForwarded":false}']`  (plugin options added to every fastify-lolly contender)
//   [-- --baseline=<dir>]  (cost: also measure the fastify-lolly built in <dir>, another checkout, against this one)
//   [-- --otel]  (cost: an OpenTelemetry SDK registered and @fastify/otel on every fastify-lolly app, spans batched and dropped)
// Side-by-side benchmarks of the built package: proxy throughput and latency against the ecosystem's
// alternatives, balancer pick cost, health checking cost, failover under load, DNS discovery cost
// and follow time (needs dnsmasq), WebSocket tunnel throughput against direct and @fastify/http-proxy.
// Prints tables and writes bench/results.json. Numbers depend on the machine; the ratios between
// rows are the point.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runThroughputBench, formatThroughput, NODE_CONTENDERS } = require('./throughput.js')
const { runHealthCheckBench, formatHealthCheck } = require('./health-check-cost.js')
const { runFailoverBench, formatFailover } = require('./failover.js')
const { runOneProcessCostBench, formatOneProcessCost } = require('./one-process-cost.js')
const { runDiscoveryBench, formatDiscovery } = require('./discovery-cost.js')
const { runWebSocketBench, formatWebSocket, WEBSOCKET_PROFILABLE } = require('./websocket-throughput.js')
const { evaluateTargets, formatTargets } = require('./targets.js')

const SECTIONS = ['throughput', 'pick', 'health', 'failover', 'cost', 'discovery', 'websocket']
const MODES = {
  // Under two minutes on two cores.
  quick: { connections: 50, seconds: 2, rounds: 3, warmupSeconds: 1, healthTargets: 1000, healthSeconds: 5, failoverConnections: 20, failoverSeconds: 4, costRounds: 5, discoveryRecords: 1000, discoverySeconds: 5, discoveryChanges: 5, wsSeconds: 2, wsRounds: 3, wsTunnels: [1] },
  full: { connections: 50, seconds: 5, rounds: 5, warmupSeconds: 2, healthTargets: 1000, healthSeconds: 20, failoverConnections: 20, failoverSeconds: 10, costRounds: 10, discoveryRecords: 1000, discoverySeconds: 20, discoveryChanges: 10, wsSeconds: 3, wsRounds: 5, wsTunnels: [1, 8] }
}
const USAGE = 'usage: node bench/run.js [--quick] [--only=throughput,pick,health,failover,cost,discovery,websocket]\n' +
  '  [--contenders=<key,...> (row 1, bare reply-from, always runs)] [--rounds=N]\n' +
  '  [--cpu-prof=<contender>|health-checker|websocket-<contender>] [--heap-prof=<same>]\n' +
  '  [--lolly-options=<json> (added to every fastify-lolly contender\'s options)]\n' +
  '  [--baseline=<dir> (cost: another checkout of fastify-lolly, built, measured against this one)]\n' +
  '  [--otel (cost: an OpenTelemetry SDK and @fastify/otel on the fastify-lolly apps)]'

function parseArgs (argv) {
  const args = { quick: false, only: new Set(SECTIONS), profile: undefined, contenders: undefined, rounds: undefined, lollyOptions: undefined, baseline: undefined, otel: false }
  for (const arg of argv) {
    const [name, value] = arg.split('=', 2)
    if (arg === '--quick') {
      args.quick = true
    } else if (arg === '--otel') {
      args.otel = true
    } else if (name === '--only' && value !== undefined) {
      args.only = new Set(value.split(','))
      for (const section of args.only) if (!SECTIONS.includes(section)) throw new Error(`unknown section ${section}\n${USAGE}`)
    } else if ((name === '--cpu-prof' || name === '--heap-prof') && value !== undefined) {
      args.profile = { kind: name === '--cpu-prof' ? 'cpu' : 'heap', target: value }
    } else if (name === '--contenders' && value !== undefined) {
      args.contenders = value.split(',')
    } else if (name === '--lolly-options' && value !== undefined) {
      try {
        args.lollyOptions = JSON.parse(arg.slice('--lolly-options='.length))
      } catch (err) {
        throw new Error(`--lolly-options must be JSON: ${err.message}\n${USAGE}`)
      }
    } else if (name === '--baseline' && value !== undefined) {
      args.baseline = path.resolve(value)
      if (!fs.existsSync(path.join(args.baseline, 'dist', 'index.js'))) throw new Error(`--baseline: no dist/index.js in ${args.baseline} (build it first)\n${USAGE}`)
    } else if (name === '--rounds' && /^[1-9]\d*$/.test(value ?? '')) {
      args.rounds = Number(value)
    } else {
      throw new Error(`bad argument ${arg}\n${USAGE}`)
    }
  }
  const profilable = [...NODE_CONTENDERS, 'health-checker', ...WEBSOCKET_PROFILABLE]
  if (args.profile !== undefined && !profilable.includes(args.profile.target)) {
    throw new Error(`--${args.profile.kind}-prof takes one of ${profilable.join(', ')}\n${USAGE}`)
  }
  return args
}

/** Loaded when run: bench/pick.js loads dist/ as it starts, which main() checks for first. */
async function runPick (quick) {
  const { runPickBench } = require('./pick.js')
  return { rows: await runPickBench({ quick }) }
}

function machineInfo (mode) {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    mode,
    loadAverageAtStart: os.loadavg().map((load) => Math.round(load * 100) / 100)
  }
}

async function section (results, name, title, run, format) {
  try {
    results[name] = await run()
    if (format !== undefined) console.log(format(results[name]))
  } catch (err) {
    results[name] = { error: err.message }
    console.log(`\n${title}: failed\n${err.stack}`)
  }
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  try {
    require.resolve('../dist/index.js')
  } catch {
    throw new Error('dist/ is missing: run `npm run build` first (`npm run bench` does)')
  }
  const mode = args.quick ? 'quick' : 'full'
  const settings = MODES[mode]
  const machine = machineInfo(mode)
  console.log(`fastify-lolly bench, ${mode} mode: ${machine.cpus} x ${machine.cpuModel}, node ${machine.node}, ` +
    `load average ${machine.loadAverageAtStart.join(' ')}, ${machine.date}`)
  const results = { machine, settings: { ...settings, lollyOptions: args.lollyOptions ?? null } }
  const progress = (text) => console.log(text)

  if (args.only.has('throughput')) {
    console.log('\nProxy throughput: running...')
    await section(results, 'throughput', 'Proxy throughput', () => runThroughputBench({
      connections: settings.connections,
      seconds: settings.seconds,
      rounds: args.rounds ?? settings.rounds,
      contenders: args.contenders,
      warmupSeconds: settings.warmupSeconds,
      profile: args.profile,
      lollyOptions: args.lollyOptions,
      progress
    }), formatThroughput)
  }
  if (args.only.has('pick')) {
    console.log('\nBalancer pick cost:')
    await section(results, 'pick', 'Balancer pick cost', () => runPick(args.quick))
  }
  if (args.only.has('health')) {
    console.log('\nHealth checking cost: running...')
    await section(results, 'healthCheck', 'Health checking cost', () => runHealthCheckBench({
      targetCount: settings.healthTargets,
      seconds: settings.healthSeconds,
      profile: args.profile,
      lollyOptions: args.lollyOptions
    }), formatHealthCheck)
  }
  if (args.only.has('failover')) {
    console.log('\nFailover under load: running...')
    await section(results, 'failover', 'Failover under load', () => runFailoverBench({
      connections: settings.failoverConnections,
      seconds: settings.failoverSeconds,
      lollyOptions: args.lollyOptions
    }), formatFailover)
  }

  if (args.only.has('cost')) {
    console.log('\nCPU per request in one process: running...')
    await section(results, 'oneProcessCost', 'CPU per request in one process', () => runOneProcessCostBench({
      connections: settings.connections,
      seconds: settings.seconds,
      rounds: args.rounds ?? settings.costRounds,
      warmupSeconds: settings.warmupSeconds,
      baseline: args.baseline,
      otel: args.otel,
      progress
    }), formatOneProcessCost)
  }

  if (args.only.has('discovery')) {
    console.log('\nDNS discovery cost and follow time: running...')
    await section(results, 'discovery', 'DNS discovery', () => runDiscoveryBench({
      records: settings.discoveryRecords,
      seconds: settings.discoverySeconds,
      changes: settings.discoveryChanges,
      lollyOptions: args.lollyOptions,
      progress
    }), formatDiscovery)
  }

  if (args.only.has('websocket')) {
    console.log('\nWebSocket tunnel throughput: running...')
    await section(results, 'websocket', 'WebSocket tunnel throughput', () => runWebSocketBench({
      seconds: settings.wsSeconds,
      rounds: args.rounds ?? settings.wsRounds,
      tunnels: settings.wsTunnels,
      lollyOptions: args.lollyOptions,
      profile: args.profile,
      progress
    }), formatWebSocket)
  }

  results.targets = evaluateTargets(results)
  console.log(formatTargets(results.targets))
  const out = path.join(__dirname, 'results.json')
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
  if (args.profile !== undefined) console.log('summarise the profile with: node bench/profile-summary.js <file>')
}

main().catch((err) => {
  console.error(err.message)
  process.exit(1)
})
