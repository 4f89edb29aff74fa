'use strict'

// The soak's child process: the world around the gateway. It runs the targets, dnsmasq and the
// blackhole, changes them on schedules (a flapping target, a discovery provider's set, the DNS
// answer, the blackhole), and runs the load. The gateway hears of each change it must act on (the
// provider's sets) or measure (the blackhole) by IPC.

const { setMaxListeners } = require('node:events')
const { Blackhole, scheduleBlackholes } = require('./blackhole.js')
const { startDns } = require('./dns.js')
const { runLoad } = require('./load.js')
const { mailbox } = require('./mailbox.js')
const { netnsUnavailable } = require('./netns.js')
const { Tally } = require('./tally.js')
const { Target, flap, startOnOnePort } = require('./targets.js')
const { newCounts, runTunnels } = require('./tunnels.js')

const PROGRESS_EVERY_MS = 10_000
const FIRST_BLACKHOLE_MS = 20_000
const PROVIDER = ['p1', 'p2', 'p3', 'p4']
const DNS = ['d1', 'd2', 'd3']

/** A random non-empty subset of `items`, other than `current` when there is another. */
function subset (items, current = []) {
  for (;;) {
    const picked = items.filter(() => Math.random() < 0.6)
    const same = picked.length === current.length && picked.every((item, i) => item === current[i])
    if (picked.length > 0 && !same) return picked
  }
}

async function startWorld (args) {
  const slowDelay = () => 50 + Math.floor(Math.random() * 100)
  const fixed = {
    steady: await new Target('steady', '127.0.0.2').start(),
    blackhole: await new Target('blackhole', '127.0.0.3').start(),
    slow: await new Target('slow', '127.0.0.4', 0, slowDelay).start(),
    flapping: await new Target('flapping', '127.0.0.5').start()
  }
  const provider = []
  for (let i = 0; i < PROVIDER.length; i++) provider.push(await new Target(PROVIDER[i], `127.0.0.${11 + i}`).start())
  const world = { fixed, provider, dnsTargets: [], dns: null, dnsWhy: '--no-dns was given', blackhole: null, blackholeWhy: null }
  if (!args.noDns) {
    world.dnsTargets = await startOnOnePort(DNS, DNS.map((_, i) => `127.0.0.${21 + i}`))
    const { dns, why } = await startDns(world.dnsTargets.map((t) => t.address))
    world.dns = dns
    world.dnsWhy = why
  }
  // The blackhole only inside the soak's own namespace (see netns.js): never in the machine's.
  world.blackholeWhy = args.inNetns === null ? (netnsUnavailable(args) ?? 'not in a network namespace of its own') : null
  if (world.blackholeWhy === null) {
    world.blackhole = new Blackhole(args.inNetns, fixed.blackhole.address, fixed.blackhole.port)
    await world.blackhole.setUp()
  }
  return world
}

function describe (world) {
  const target = (t) => ({ name: t.name, url: t.url })
  return {
    fixed: Object.values(world.fixed).map(target),
    provider: world.provider.map(target),
    dnsTargets: world.dnsTargets.map(target),
    dns: world.dns === null ? null : { server: world.dns.server, url: `http://${world.dns.name}:${world.dnsTargets[0].port}` },
    dnsWhy: world.dnsWhy,
    blackholeWhy: world.blackholeWhy
  }
}

/** The provider's set changes every --churn-ms; every eighth change is a registry glitch instead (discover() throws). */
function churnProvider (world, ms) {
  let changes = 0
  let current = []
  const timer = setInterval(() => {
    changes++
    if (changes % 8 === 0) return process.send({ type: 'glitch' })
    current = subset(world.provider, current)
    // Now and then an instance that is terminating: it drains.
    const set = current.map((t, i) => (i > 0 && Math.random() < 0.2 ? { url: t.url, state: 'draining' } : t.url))
    process.send({ type: 'members', set })
  }, ms)
  return { changes: () => changes, stop: () => clearInterval(timer) }
}

function churnDns (world, ms) {
  let changes = 0
  let current = world.dnsTargets.map((t) => t.address)
  const timer = setInterval(() => {
    changes++
    current = subset(world.dnsTargets.map((t) => t.address), current)
    world.dns.set(current)
  }, ms)
  return { changes: () => changes, stop: () => clearInterval(timer) }
}

async function runPeer (args) {
  // A ^C is the gateway's to handle: it tells this process to stop.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => {})
  // The gateway gone (crashed, killed): nothing left to do. dnsmasq follows (its parent-death signal).
  let finished = false
  let world = null
  process.on('disconnect', () => {
    if (finished) return
    world?.dns?.killNow()
    process.exit(1)
  })
  const next = mailbox(process)
  world = await startWorld(args)
  process.send({ type: 'ready', world: describe(world) })
  const { port } = await next('go')
  const cpuAtGo = process.cpuUsage()
  const goAt = Date.now()
  let loadMs = 0

  const stopping = new AbortController()
  const stop = stopping.signal
  // Every loop and every sleep of the load listens to it.
  setMaxListeners(0, stop)
  stop.addEventListener('abort', () => { loadMs = Date.now() - goAt })
  const deadline = setTimeout(() => stopping.abort(), args.seconds * 1000)
  next('stop').then(() => stopping.abort(), () => {})
  const flapping = flap(world.fixed.flapping, args.flapMs)
  const provider = churnProvider(world, args.churnMs)
  const dns = world.dns === null ? null : churnDns(world, args.dnsChurnMs)
  const blackholes = world.blackhole === null
    ? null
    : scheduleBlackholes(world.blackhole, { firstMs: FIRST_BLACKHOLE_MS, everyMs: args.blackholeEveryMs, forMs: args.blackholeMs },
      (on) => process.send({ type: 'blackhole', on }))
  const tally = new Tally()
  const tunnels = newCounts()
  const progress = setInterval(() => process.send({
    type: 'progress',
    window: tally.takeWindow(),
    flips: flapping.flips,
    blackhole: world.blackhole?.dropped ?? null,
    tunnelsOpen: tunnels.open
  }), PROGRESS_EVERY_MS)

  const [load] = await Promise.all([runLoad(args, port, tally, stop), runTunnels(args, port, tunnels, stop)])
  clearTimeout(deadline)
  clearInterval(progress)
  flapping.stop()
  provider.stop()
  dns?.stop()
  await blackholes?.stop()
  process.send({
    type: 'done',
    load: tally.summary(),
    tunnels,
    statusEvents: load.statusEvents,
    cpu: process.cpuUsage(cpuAtGo),
    loadMs,
    world: { flips: flapping.flips, providerChanges: provider.changes(), dnsChanges: dns?.changes() ?? 0, blackholes: blackholes?.count ?? 0 }
  })

  await next('exit')
  if (world.blackhole !== null) await world.blackhole.close()
  if (world.dns !== null) await world.dns.close()
  for (const target of [...Object.values(world.fixed), ...world.provider, ...world.dnsTargets]) await target.kill()
  finished = true
  process.disconnect()
}

module.exports = { runPeer }
