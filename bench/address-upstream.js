'use strict'

// Child process: one plain node:http server on each of several loopback addresses, all on the same
// port, as the instances a DNS name lists are. Every answer's body is the address that took it, so
// the client sees which instance a proxied request reached.
//   node bench/address-upstream.js '<json: { addresses: ["127.0.0.2", ...] }>'

const http = require('node:http')
const { serveParent } = require('./ipc.js')

const { addresses } = JSON.parse(process.argv[2])
// A port free on the first address may be taken on another: then all of them try a new one.
const ATTEMPTS = 20

const counts = {}

function handle (req, res) {
  const address = req.socket.localAddress
  counts[address] = (counts[address] ?? 0) + 1
  const body = Buffer.from(address)
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length })
  res.end(body)
}

function listen (server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject)
      resolve(server.address().port)
    })
  })
}

function close (server) {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(resolve)
  })
}

/** Listens on every address with one port; resolves with the servers and that port. */
async function listenAll () {
  for (let attempt = 1; ; attempt++) {
    const servers = []
    try {
      let port = 0
      for (const host of addresses) {
        const server = http.createServer(handle)
        server.keepAliveTimeout = 120_000
        servers.push(server)
        port = await listen(server, port, host)
      }
      return { servers, port }
    } catch (err) {
      await Promise.all(servers.filter((server) => server.listening).map(close))
      if (err.code !== 'EADDRINUSE' || attempt === ATTEMPTS) throw err
    }
  }
}

async function main () {
  const { servers, port } = await listenAll()
  serveParent({
    counters: () => ({ ...counts }),
    close: () => Promise.all(servers.map(close))
  }).ready({ port })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
