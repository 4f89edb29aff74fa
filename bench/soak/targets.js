'use strict'

// The soak's targets: each is an HTTP server and a WebSocket echo server on one loopback address, that
// names itself in every answer (`x-soak-target`, and the first message of a tunnel), so the load can
// tell where a request or tunnel landed. A target can be killed (every connection ended at once, as a
// crashed process leaves them) and started again on the same address and port.

const http = require('node:http')
const { WebSocketServer } = require('ws')

const KIB = Buffer.alloc(1024, 'x')
const CHUNK = Buffer.alloc(64 * 1024, 'y')

function handler (name, delay) {
  return (req, res) => {
    res.setHeader('x-soak-target', name)
    if (req.url === '/health') {
      req.resume()
      return res.end('ok')
    }
    if (req.url.startsWith('/upload')) {
      let received = 0
      req.on('data', (chunk) => { received += chunk.length })
      req.on('end', () => res.end(`received ${received}`))
      return
    }
    req.resume()
    req.on('end', () => {
      const ms = delay()
      if (ms === 0) answer(req, res)
      else setTimeout(answer, ms, req, res)
    })
  }
}

function answer (req, res) {
  if (res.destroyed) return
  if (req.url.startsWith('/err/')) {
    res.statusCode = 500
    return res.end('application error')
  }
  if (req.url.startsWith('/big/')) return stream(res, 64 * 1024, KIB)
  if (req.url.startsWith('/huge/')) {
    const bytes = Number(req.url.slice('/huge/'.length))
    res.setHeader('content-length', bytes)
    return stream(res, bytes, CHUNK)
  }
  res.setHeader('content-type', 'application/octet-stream')
  res.end(KIB)
}

/** `bytes` bytes in writes of `chunk`, each after the last drained. */
function stream (res, bytes, chunk) {
  let left = bytes
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
      left -= piece.length
      if (!res.write(piece)) return res.once('drain', pump)
    }
    res.end()
  }
  pump()
}

class Target {
  /** `delay()`: ms before each answer. Port 0 picks one, kept across restarts. */
  constructor (name, address, port = 0, delay = () => 0) {
    this.name = name
    this.address = address
    this.port = port
    this.delay = delay
    this.up = false
    this.server = null
    this.sockets = new Set()
  }

  get url () { return `http://${this.address}:${this.port}` }

  async start () {
    const server = http.createServer(handler(this.name, this.delay))
    // The upgraded sockets leave the server's own tracking: these are every socket, for kill().
    server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true })
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ target: this.name }))
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
      ws.on('error', () => {})
    }))
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, this.address, () => { server.off('error', reject); resolve() })
    })
    this.port = server.address().port
    this.server = server
    this.up = true
    return this
  }

  /** Every connection ended at once, and the port closed: connects are refused. */
  kill () {
    this.up = false
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    const server = this.server
    this.server = null
    return new Promise((resolve) => server === null ? resolve() : server.close(() => resolve()))
  }
}

/** Starts targets `names` on `addresses`, all on one port (as a DNS name's instances are). */
async function startOnOnePort (names, addresses) {
  for (let attempt = 0; ; attempt++) {
    const started = [await new Target(names[0], addresses[0]).start()]
    try {
      for (let i = 1; i < names.length; i++) started.push(await new Target(names[i], addresses[i], started[0].port).start())
      return started
    } catch (err) {
      // The port was free on the first addresses only (outside the soak's own namespace): try another.
      for (const target of started) await target.kill()
      if (err.code !== 'EADDRINUSE' || attempt >= 10) throw err
    }
  }
}

/** Takes `target` down and up every `ms`; returns a stop function and a count of its flips. */
function flap (target, ms) {
  const state = { flips: 0 }
  let busy = false
  const timer = setInterval(async () => {
    if (busy) return
    busy = true
    state.flips++
    try {
      if (target.up) await target.kill()
      else await target.start()
    } finally {
      busy = false
    }
  }, ms)
  state.stop = () => clearInterval(timer)
  return state
}

module.exports = { Target, flap, startOnOnePort }
