'use strict'

// The soak's main process: the gateway (the built package) with every feature on, and what it
// measures of itself. The targets, dnsmasq, the blackhole and the load run in a child (peer.js), so
// the event-loop delay and the memory measured here are the gateway's own.

const { fork } = require('node:child_process')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { setFlagsFromString } = require('node:v8')
const { runInNewContext } = require('node:vm')
const { mailbox } = require('./mailbox.js')
const { insideNetns, netnsUnavailable } = require('./netns.js')
const { Observer } = require('./observe.js')
const { mb, printSummary, progressLine } = require('./report.js')

const SECRET = 'soak-affinity-secret-0123456789'
const COOKIE = 'lolly'
// The loop-delay sampler's period, ms. Node records the whole time between two of its ticks, so the
// delay is what exceeds the period (as bench/ipc.js reads it).
const LOOP_SAMPLE_MS = 10
const loopMs = (ns) => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS)
const SETTLE_MS = 30_000

function memory (gc) {
  gc()
  const { rss, heapUsed, external } = process.memoryUsage()
  return { rssMB: mb(rss), heapMB: mb(heapUsed), externalMB: mb(external) }
}

/**
 * A `{ discover }` provider whose sets come from the peer: each `members` message is the registry's
 * new set, each `glitch` makes discover() throw (the gateway keeps the last set and calls it again).
 */
class SoakProvider {
  constructor (initial) {
    this.set = initial
    this.version = 0
    this.glitching = false
    this.wake = () => {}
  }

  update (set) {
    this.set = set
    this.version++
    this.wake()
  }

  glitch () {
    this.glitching = true
    this.wake()
  }

  entry () {
    const provider = this
    return {
      name: 'registry',
      async * discover ({ signal }) {
        let seen = provider.version
        yield provider.set
        while (!signal.aborted) {
          await new Promise((resolve) => {
            provider.wake = resolve
            signal.addEventListener('abort', resolve, { once: true })
          })
          provider.wake = () => {}
          if (signal.aborted) return
          if (provider.glitching) {
            provider.glitching = false
            throw new Error('registry glitch (soak)')
          }
          if (provider.version !== seen) {
            seen = provider.version
            yield provider.set
          }
        }
      }
    }
  }
}

function options (world, provider, registry) {
  const targets = [...world.fixed.map((t) => t.url), provider.entry()]
  if (world.dns !== null) targets.push({ dns: world.dns.url, family: 4 })
  return {
    targets,
    balancer: 'least-connections',
    responseTimeout: 2000,
    slowStart: 5000,
    passive: { maxFails: 3, failWindow: 5000, ejectTime: 2000, maxEjectTime: 10_000 },
    healthCheck: { interval: 1000, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
    ...(world.dns === null ? {} : { resolver: { servers: [world.dns.server], timeout: 500, maxInterval: 5000 } }),
    websocket: true,
    affinity: { cookie: { name: COOKIE, secret: SECRET } },
    metrics: { registry },
    status: true
  }
}

async function runGateway (args, entry) {
  if (args.inNetns !== null && !insideNetns(args.inNetns)) throw new Error(`--in-netns ${args.inNetns}: this process is not inside that network namespace`)
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  const Fastify = require('fastify')
  const promClient = require('prom-client')
  const lolly = require(path.join(__dirname, '..', '..', 'dist', 'index.js'))

  const peer = fork(entry, [...process.argv.slice(2), '--peer'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = mailbox(peer)
  const peerExited = new Promise((resolve) => peer.once('exit', resolve))
  // Under `npm run soak` a ^C comes twice at once (from the terminal and from npm): a second one
  // quits only when it comes later.
  let firstSignalAt = 0
  const onSignal = () => {
    if (firstSignalAt !== 0) {
      if (Date.now() - firstSignalAt > 1000) process.exit(130)
      return
    }
    firstSignalAt = Date.now()
    console.error('stopping the load (again to quit at once)')
    peer.send({ type: 'stop' })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const { world } = await next('ready')
  const names = Object.fromEntries([...world.fixed, ...world.provider, ...world.dnsTargets].map((t) => [t.url, t.name]))
  const provider = new SoakProvider(world.provider.map((t) => t.url))
  const registry = new promClient.Registry()

  const app = Fastify({ bodyLimit: 1024 * 1024 })
  const observer = new Observer(app, names, SECRET, COOKIE)
  observer.blackholeUrl = world.fixed.find((t) => t.name === 'blackhole').url
  observer.install()
  await app.register(lolly, options(world, provider, registry))
  // Uploads pass through as streams.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload))
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  app.all('/*', (_request, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  observer.watch()

  const mode = { netns: args.inNetns, blackhole: world.blackholeWhy ?? 'on', dns: world.dnsWhy ?? 'on' }
  if (!args.json) {
    console.log(`network namespace: ${mode.netns ?? `none, ${netnsUnavailable(args) ?? 'not asked for'}`}; blackhole ${mode.blackhole === 'on' ? 'on' : `off: ${mode.blackhole}`}; dns entry ${mode.dns === 'on' ? 'on' : `off: ${mode.dns}`}`)
  }

  const loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  let windowLoop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  loop.enable()
  windowLoop.enable()
  const startedAt = Date.now()
  const memoryAtStart = memory(gc)
  let memoryAfterWarmUp
  const warmUp = setTimeout(() => { memoryAfterWarmUp = memory(gc) }, Math.min(10_000, args.seconds * 100))
  const cpuAtStart = process.cpuUsage()

  peer.on('message', (message) => {
    if (message.type === 'members') provider.update(message.set)
    else if (message.type === 'glitch') provider.glitch()
    else if (message.type === 'blackhole') observer.blackhole(message.on)
    else if (message.type === 'progress') {
      const loopP99 = loopMs(windowLoop.percentile(99))
      windowLoop.disable()
      windowLoop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
      windowLoop.enable()
      const elapsed = Math.round((Date.now() - startedAt) / 1000)
      if (!args.json) console.log(progressLine({ ...message, elapsed, loopP99, targets: app.lolly.targets, names }))
    }
  })
  peer.send({ type: 'go', port: app.server.address().port })
  const done = await next('done')
  const cpu = process.cpuUsage(cpuAtStart)
  const ranMs = Date.now() - startedAt
  clearTimeout(warmUp)
  loop.disable()
  windowLoop.disable()

  // The load has stopped and every client closed: nothing may stay counted in flight. A tunnel whose
  // target was blackholed until the end may take a TCP retransmission (seconds) to close.
  const settleStarted = Date.now()
  const inflight = () => app.lolly.targets.reduce((sum, t) => sum + t.inflight, 0)
  const inflightAtStop = inflight()
  const tunnelsAtStop = app.lolly.targets.reduce((sum, t) => sum + t.tunnels, 0)
  while (inflight() > 0 && Date.now() - settleStarted < SETTLE_MS) await new Promise((resolve) => setTimeout(resolve, 50))
  const targetsAtEnd = app.lolly.targets
  const inflightAtEnd = {
    atStop: inflightAtStop,
    tunnelsAtStop,
    total: inflight(),
    tunnels: targetsAtEnd.reduce((sum, t) => sum + t.tunnels, 0),
    settledMs: Date.now() - settleStarted,
    byTarget: Object.fromEntries(targetsAtEnd.filter((t) => t.inflight > 0).map((t) => [names[t.url] ?? t.url, t.inflight]))
  }
  const memoryAtEnd = memory(gc)
  const closeStarted = Date.now()
  await app.close()
  const closeMs = Date.now() - closeStarted
  peer.send({ type: 'exit' })

  const kinds = done.load.kinds
  const requests = Object.values(kinds).reduce((sum, k) => sum + k.requests, 0)
  const errors = Object.values(kinds).reduce((sum, k) => sum + k.errors, 0)
  const result = {
    seconds: Math.round(done.loadMs / 1000),
    connections: args.connections,
    rate: args.rate,
    mode,
    world: done.world,
    requests,
    requestsPerSecond: Math.round(requests / (done.loadMs / 1000)),
    requestsByKind: kinds,
    errors,
    errorRate: requests === 0 ? 0 : errors / requests,
    errorsByKind: done.load.errors,
    tunnels: done.tunnels,
    statusEvents: done.statusEvents,
    ...observer.result(),
    inflightAtEnd,
    memory: { start: memoryAtStart, afterWarmUp: memoryAfterWarmUp ?? memoryAtStart, end: memoryAtEnd },
    eventLoopDelayMs: { p50: loopMs(loop.percentile(50)), p99: loopMs(loop.percentile(99)), max: loopMs(loop.max) },
    cpu: {
      gatewayPercent: Math.round((cpu.user + cpu.system) / 1000 / ranMs * 100),
      peerPercent: Math.round((done.cpu.user + done.cpu.system) / 1000 / ranMs * 100)
    },
    closeMs
  }
  if (args.json) console.log(JSON.stringify(result, null, 2))
  else printSummary(result)
  await peerExited
  return result
}

module.exports = { runGateway }
