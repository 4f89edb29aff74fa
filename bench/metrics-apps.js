'use strict'

// Child process for the metrics-cost bench: three fastify-lolly apps in ONE process, on three ports,
// in front of the same targets. `off` and `control` are identical (metrics off); `on` has Prometheus
// metrics in its own registry, scraped every second. The parent loads one app at a time and reads
// this process's CPU per request, so the comparison carries no process-to-process difference (which
// CPU, JIT luck): measured, two identical proxy *processes* differ by up to 10%. `control` vs `off`
// shows what is left of the noise.
//   node bench/metrics-apps.js '<json: { targets: [url, ...] }>'

const { Registry } = require('prom-client')
const { serveParent } = require('./ipc.js')
const lolly = require('../dist/index.js')

const { targets } = JSON.parse(process.argv[2])
// As the throughput bench's lolly contenders: active checks every second.
const HEALTH_CHECK = { interval: 1000, timeout: 500 }
const SCRAPE_INTERVAL_MS = 1000

async function start (metrics) {
  const app = require('fastify')()
  await app.register(lolly, { targets, balancer: 'round-robin', healthCheck: HEALTH_CHECK, metrics })
  app.get('/*', (request, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

async function main () {
  const registry = new Registry()
  const apps = { off: await start(false), control: await start(false), on: await start({ registry }) }
  // Far more often than a Prometheus server would (15 s is usual), so scrape cost is not hidden.
  const scraper = setInterval(() => { registry.metrics().catch(() => {}) }, SCRAPE_INTERVAL_MS)
  const ports = {}
  for (const [name, app] of Object.entries(apps)) ports[name] = app.server.address().port
  serveParent({
    close: async () => {
      clearInterval(scraper)
      await Promise.all(Object.values(apps).map((app) => app.close()))
    }
  }).ready({ ports })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
