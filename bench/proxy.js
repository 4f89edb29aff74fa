'use strict'

// Child process: one proxy contender listening on 127.0.0.1.
//   node bench/proxy.js <contender> '<json: { targets: [url | { dns, ... }, ...], activeHealth?: boolean, options?: {} }>'
// Contenders are in CONTENDERS below. The lolly ones ask for active health checks every second and,
// when the build does not know an option yet, fall back without it and say so in `notes`.

const http = require('node:http')
const diagnostics = require('node:diagnostics_channel')

const [contender, rawConfig] = process.argv.slice(2)
const config = JSON.parse(rawConfig)
const { serveParent } = require('./ipc.js')

// Active checks as the issue asks for them: every second, half a second to answer.
const ACTIVE_HEALTH = { interval: 1000, timeout: 500 }

async function replyFromApp (base) {
  const app = require('fastify')()
  await app.register(require('@fastify/reply-from'), { base })
  app.get('/*', (request, reply) => reply.from())
  return { app, notes: [] }
}

/** http-proxy on node:http, a keep-alive agent (as many sockets per target as the others) and a round-robin counter. */
function httpProxyServer (targets) {
  const httpProxy = require('http-proxy')
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 })
  const proxy = httpProxy.createProxyServer({ agent })
  proxy.on('error', (err, req, res) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
    res.end(err.code ?? 'proxy error')
  })
  let next = 0
  const server = http.createServer((req, res) => {
    const target = targets[next]
    next = next === targets.length - 1 ? 0 : next + 1
    proxy.web(req, res, { target })
  })
  server.keepAliveTimeout = 120_000
  return { server, notes: ['node:http server'] }
}

/**
 * fastify-lolly with `options`; with `activeHealth`, first tries adding the active health check.
 * Every failed attempt (an option this build does not know, a balancer not built yet) becomes a note.
 */
async function lollyApp (options, activeHealth) {
  const lolly = require('../dist/index.js')
  const attempts = activeHealth ? [{ ...options, healthCheck: ACTIVE_HEALTH }, options] : [options]
  const notes = []
  for (const attempt of attempts) {
    const app = require('fastify')()
    try {
      await app.register(lolly, attempt)
      app.get('/*', (request, reply) => reply.from())
      await app.ready()
      if (attempt.healthCheck !== undefined) notes.push('active health every 1 s')
      return { app, notes }
    } catch (err) {
      await app.close().catch(() => {})
      const what = attempt.healthCheck === undefined ? 'unavailable in this build' : 'no active health checks in this build, ran without'
      notes.push(`${what} (${err.code ?? 'Error'}: ${err.message.split('\n')[0].slice(0, 100)})`)
    }
  }
  const err = new Error(notes.join('; '))
  err.unavailable = true
  throw err
}

const CONTENDERS = {
  'reply-from': ({ targets }) => replyFromApp(targets[0]),
  'reply-from-balanced': ({ targets }) => replyFromApp(targets),
  'http-proxy': ({ targets }) => httpProxyServer(targets),
  'fastify-undici-floor': ({ targets }) => require('./floor-proxy.js').floorApp(targets),
  // `options` adds plugin options (run.js --lolly-options), for experiments: `{ "xForwarded": false }`.
  'lolly-round-robin': ({ targets, activeHealth = true, options }) => lollyApp({ targets, balancer: 'round-robin', ...options }, activeHealth),
  'lolly-least-latency': ({ targets, activeHealth = true, options }) => lollyApp({ targets, balancer: 'least-latency', ...options }, activeHealth)
}

// How often the watch reads lolly's target counters: the resolution of "last try on the dead target".
const COUNTER_POLL_MS = 20

/**
 * Records what the failover bench needs to know: every failed connection attempt (by port, so the
 * parent can pick out the killed upstream's) and, for lolly, every target state change and every
 * change of a target's `requests` counter (tries of real traffic; active probes do not count there,
 * while they do show among the failed connection attempts).
 */
function createWatch (app) {
  const lollyApi = app?.lolly
  let connectErrors = []
  let states = []
  let tries = []
  let watching = false
  let poller
  diagnostics.subscribe('undici:client:connectError', ({ connectParams }) => {
    if (watching) connectErrors.push({ port: Number(connectParams.port), at: Date.now() })
  })
  lollyApi?.on('state', (change) => {
    if (watching) states.push({ target: change.target, from: change.from, to: change.to, reason: change.reason, at: Date.now() })
  })
  const last = new Map()
  const readCounters = () => {
    const at = Date.now()
    for (const { url, requests } of lollyApi.targets) {
      if (last.get(url) === requests) continue
      last.set(url, requests)
      tries.push({ target: url, requests, at })
    }
  }
  return {
    start () {
      connectErrors = []
      states = []
      tries = []
      watching = true
      if (lollyApi !== undefined) {
        readCounters()
        poller = setInterval(readCounters, COUNTER_POLL_MS)
      }
    },
    stop () {
      watching = false
      clearInterval(poller)
      return { connectErrors, states, tries: lollyApi === undefined ? null : tries }
    }
  }
}

async function main () {
  const build = CONTENDERS[contender]
  if (build === undefined) throw new Error(`unknown contender ${contender} (known: ${Object.keys(CONTENDERS).join(', ')})`)
  let built
  try {
    built = await build(config)
  } catch (err) {
    if (!err.unavailable) throw err
    serveParent({}).ready({ unavailable: err.message })
    return
  }
  const { app, server, notes } = built
  let port
  if (app !== undefined) {
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = app.server.address().port
  } else {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = server.address().port
  }
  const watch = createWatch(app)
  serveParent({
    watchStart: () => watch.start(),
    watchStop: () => watch.stop(),
    // For the discovery bench: what lolly's dns/srv sources answered, and the pool's size.
    discovery: () => ({ sources: app?.lolly?.sources ?? null, poolTargets: app?.lolly?.targets.length ?? null }),
    close: () => app !== undefined ? app.close() : new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) })
  }).ready({ port, notes })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
