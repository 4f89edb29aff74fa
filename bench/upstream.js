'use strict'

// Child process: the upstream servers. Plain node:http answering a fixed 1 KiB body, so that the
// proxy in front of them is the bottleneck; `/health` answers 200 for active checks.
//   node bench/upstream.js [count]    count servers (default 1), each on its own 127.0.0.1 port

const http = require('node:http')
const { serveParent } = require('./ipc.js')

const PAYLOAD = Buffer.alloc(1024, 'x')
const HEALTH = Buffer.from('ok')
const count = Number(process.argv[2] ?? 1)

let requests = 0
let probes = 0
let connections = 0

function handle (req, res) {
  if (req.url === '/health') {
    probes++
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': HEALTH.length })
    res.end(HEALTH)
    return
  }
  requests++
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': PAYLOAD.length })
  res.end(PAYLOAD)
}

async function main () {
  const servers = []
  for (let i = 0; i < count; i++) {
    const server = http.createServer(handle)
    server.on('connection', () => { connections++ })
    // Longer than any run, so proxies keep their connections and measure proxying, not connecting.
    server.keepAliveTimeout = 120_000
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    servers.push(server)
  }
  const parent = serveParent({
    counters: () => ({ requests, probes, connections }),
    close: () => Promise.all(servers.map((server) => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(resolve)
    })))
  })
  parent.ready({ ports: servers.map((server) => server.address().port) })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
