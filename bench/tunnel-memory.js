'use strict'

// `npm run build && node bench/tunnel-memory.js [--tunnels=1000]`
// Memory an open WebSocket tunnel costs the gateway: the gateway runs alone in a child process (so
// the clients' and targets' sockets are not counted), and reports its heap and RSS after a full GC,
// idle and then with N tunnels open through it. Everything on 127.0.0.1.

const { fork } = require('node:child_process')
const path = require('node:path')
const { WebSocket, WebSocketServer } = require('ws')

const CHILD = process.argv[2] === '--child'

async function gateway () {
  const Fastify = require('fastify')
  const lolly = require(path.join(__dirname, '..', 'dist', 'index.js'))
  const app = Fastify()
  await app.register(lolly, { targets: [process.env.TARGET], websocket: true })
  app.get('/*', (_request, reply) => { reply.from() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const measure = () => {
    global.gc()
    global.gc()
    const { heapUsed, rss } = process.memoryUsage()
    return { heapUsed, rss, tunnels: app.lolly.targets[0].tunnels }
  }
  process.on('message', (message) => {
    if (message === 'measure') process.send({ measured: measure() })
    if (message === 'exit') app.close().then(() => process.exit(0))
  })
  process.send({ port: app.server.address().port })
}

async function main () {
  const count = Number((process.argv.find((arg) => arg.startsWith('--tunnels=')) ?? '--tunnels=1000').split('=')[1])
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
  wss.on('connection', (ws) => ws.send('hi'))
  await new Promise((resolve) => wss.once('listening', resolve))
  const child = fork(__filename, ['--child'], { execArgv: ['--expose-gc'], env: { ...process.env, TARGET: `http://127.0.0.1:${wss.address().port}` } })
  const next = () => new Promise((resolve) => child.once('message', resolve))
  const { port } = await next()
  const url = `ws://127.0.0.1:${port}/ws`
  // Warm up: the first tunnel compiles the code path.
  const warm = new WebSocket(url, { perMessageDeflate: false })
  await new Promise((resolve) => warm.once('message', resolve))
  warm.close()
  await new Promise((resolve) => setTimeout(resolve, 200))
  child.send('measure')
  const idle = (await next()).measured
  const clients = []
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    clients.push(new Promise((resolve, reject) => { ws.once('message', () => resolve(ws)); ws.once('error', reject) }))
  }
  const open = await Promise.all(clients)
  child.send('measure')
  const busy = (await next()).measured
  const perTunnel = (key) => (busy[key] - idle[key]) / busy.tunnels
  console.log(`${busy.tunnels} tunnels open: heap +${(perTunnel('heapUsed') / 1024).toFixed(1)} KiB and RSS +${(perTunnel('rss') / 1024).toFixed(1)} KiB per tunnel (gateway process, after GC)`)
  for (const ws of open) ws.terminate()
  child.send('exit')
  wss.close()
}

if (CHILD) gateway()
else main()
