import { fork, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'tap'
import { request } from 'undici'
import { until } from '../helpers/fleet.js'
import { startGateway } from '../helpers/ws-targets.js'

// Ten thousand idle WebSocket tunnels through one gateway, as many as `maxTunnels` allows by default.
// The gateway holds two sockets per tunnel, so the clients and the targets run in child processes
// (each process has its own file-descriptor limit): the gateway's own limit is what bounds the count.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const WANTED = 10_000
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4']
const FIXTURES = path.join(__dirname, 'fixtures')
// Descriptors kept free beside those open at the start: the plain requests' connections, and room.
const SPARE_FDS = 64

/** How many more files this process may open (from Linux's /proc; elsewhere, as many as wanted). */
function filesLeft (): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))
    return line === null || line[1] === 'unlimited' ? Infinity : Number(line[1]) - fs.readdirSync('/proc/self/fd').length
  } catch {
    return Infinity
  }
}

interface Child { child: ChildProcess, ask: <T>(message: string | object) => Promise<T> }

async function forkChild (file: string, args: string[]): Promise<Child & { first: unknown }> {
  const child = fork(path.join(FIXTURES, file), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const next = async <T>(): Promise<T> => await new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`${file} exited (${code})`))
    child.once('exit', onExit)
    child.once('message', (message) => { child.off('exit', onExit); resolve(message as T) })
  })
  const first = await next()
  return { child, first, ask: async <T>(message: string | object) => { const answer = next<T>(); child.send(message); return await answer } }
}

test('ten thousand idle tunnels: counted per target, a few KiB each, idle at no cost, a sample still carries messages, plain requests stay fast, all close cleanly', async (t) => {
  const testStarted = Date.now()
  const targets = await forkChild('ws-echo-targets.js', ADDRESSES)
  const clients = await forkChild('ws-idle-clients.js', [])
  t.teardown(() => { targets.child.kill(); clients.child.kill() })
  const ports = (targets.first as { ports: number[] }).ports
  const { app, url } = await startGateway({ targets: ADDRESSES.map((address, i) => `http://${address}:${ports[i]}`), websocket: true })
  // Where `ulimit -n` is 20,000 (as here), ten thousand tunnels do not fit: two descriptors each, and the process's own.
  const left = filesLeft()
  const count = Math.min(WANTED, Math.floor((left - SPARE_FDS) / 2))
  if (count < WANTED) t.comment(`this process may open ${left} more files: ${count} tunnels (two sockets each), not ${WANTED}`)
  t.teardown(async () => { await app.close() })
  const port = Number(new URL(url).port)
  const tunnels = (): number[] => app.lolly.targets.map((target) => target.tunnels)
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)

  // A warm-up tunnel first, so the memory measured is the tunnels', not the code path's.
  t.match(await clients.ask({ open: { port, count: 1, concurrency: 1 } }), { opened: 1 })
  await clients.ask('close')
  await until(() => sum(tunnels()) === 0, 5000, 'the warm-up tunnel closed')
  gc()
  const before = process.memoryUsage()

  const opened = await clients.ask<{ opened: number, failed: number, ms: number }>({ open: { port, count, concurrency: 128 } })
  t.same({ opened: opened.opened, failed: opened.failed }, { opened: count, failed: 0 }, `${count} tunnels opened in ${opened.ms} ms`)
  t.equal(sum(tunnels()), count, `counted on their targets: ${tunnels().join(', ')}`)
  t.ok(Math.max(...tunnels()) - Math.min(...tunnels()) <= 1, 'spread round robin')
  t.same(app.lolly.targets.map((target) => target.inflight), tunnels(), 'each one in flight on its target')
  t.same(await targets.ask('count'), { open: count }, 'and open on the targets')

  gc()
  const after = process.memoryUsage()
  const heapPer = (after.heapUsed - before.heapUsed) / count
  const rssPer = (after.rss - before.rss) / count
  t.comment(`per tunnel, after GC: heap ${(heapPer / 1024).toFixed(1)} KiB, RSS ${(rssPer / 1024).toFixed(1)} KiB (gateway process)`)
  t.ok(heapPer < 16 * 1024, `heap ${(heapPer / 1024).toFixed(1)} KiB a tunnel`)

  // Idle tunnels cost nothing while idle: no timer of theirs runs (idleTimeout is one per socket, reset by bytes).
  const idleFrom = performance.eventLoopUtilization()
  await new Promise((resolve) => setTimeout(resolve, 500))
  const idle = performance.eventLoopUtilization(idleFrom)
  t.ok(idle.utilization < 0.2, `the event loop idles beside them (utilization ${(idle.utilization * 100).toFixed(1)} %)`)
  t.equal(sum(tunnels()), count, 'none closed while idle')

  const latencies: number[] = []
  const statuses = new Set<number>()
  for (let i = 0; i < 20; i++) {
    const started = performance.now()
    const res = await request(`${url}/plain/${i}`)
    statuses.add(res.statusCode)
    await res.body.text()
    latencies.push(performance.now() - started)
  }
  latencies.sort((a, b) => a - b)
  t.same([...statuses], [200], 'plain requests are served beside them')
  t.comment(`plain requests beside them: median ${latencies[10].toFixed(1)} ms, slowest ${latencies[19].toFixed(1)} ms`)
  t.ok(latencies[10] < 50, `a plain request is served quickly (median ${latencies[10].toFixed(1)} ms)`)

  // Every tenth tunnel (a tenth of the time all of them take).
  const echoed = await clients.ask<{ echoed: number, wrong: number, ms: number }>({ echo: 10 })
  t.same({ echoed: echoed.echoed, wrong: echoed.wrong }, { echoed: Math.ceil(count / 10), wrong: 0 }, `each tunnel of the sample echoed its own message, no crossed wires (${echoed.ms} ms)`)

  const closing = Date.now()
  await clients.ask('close')
  await until(() => app.lolly.targets.every((target) => target.tunnels === 0 && target.inflight === 0), 15_000, 'every tunnel closed')
  t.comment(`all closed in ${Date.now() - closing} ms; the whole test took ${Date.now() - testStarted} ms`)
  t.equal(sum(app.lolly.targets.map((target) => target.tunnelsOpened)), count + 1, 'tunnelsOpened: the warm-up and the rest')
  t.same(app.lolly.targets.map((target) => [target.failures, target.handshakesFailed]), [[0, 0], [0, 0], [0, 0]], 'nothing failed')
  let open = -1
  for (const started = Date.now(); open !== 0 && Date.now() - started < 5000;) open = (await targets.ask<{ open: number }>('count')).open
  t.equal(open, 0, 'closed on the targets too')
})
