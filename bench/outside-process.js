'use strict'

// What the outside reference proxies (nginx, Caddy) share: finding a binary on PATH, a free port,
// waiting for it to listen, and reading a child process's CPU time from /proc.

const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')

function findOnPath (name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {}
  }
  return null
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts connections on `port`, or rejects after `ms`. */
async function waitForPort (port, ms, exited) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (exited()) throw new Error('exited')
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listening on ${port} after ${ms} ms`)
}

/** CPU share of another process, from /proc (Linux); null where /proc is not there. */
function procCpuMeter (pid) {
  let ticksPerSecond = 100
  try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch {}
  const read = () => {
    try {
      // Fields after the command name (which may hold spaces, hence the last ')'): utime is 14th, stime 15th overall.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
    } catch {
      return null
    }
  }
  let startCpu
  let startAt
  return {
    start () {
      startCpu = read()
      startAt = process.hrtime.bigint()
    },
    stop () {
      const cpu = read()
      const wallMs = Number(process.hrtime.bigint() - startAt) / 1e6
      if (cpu === null || startCpu === null) return { share: null, cpuUs: null, wallMs }
      return { share: (cpu - startCpu) / (wallMs / 1e3), cpuUs: (cpu - startCpu) * 1e6, wallMs }
    }
  }
}

/**
 * Runs `binary args` (a proxy listening on `port`, its files in `dir`) until stop(). Resolves
 * `{ unavailable }` when it does not listen within `startMs` (with `pickLine` of its stderr as the
 * reason), else `{ port, notes, call, stop }` shaped like a proxy child (cpuStart/cpuStop).
 */
async function runOutsideProcess ({ binary, args, env, dir, port, startMs, notes, pickLine }) {
  let stderr = ''
  let exited = false
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], env })
  // Only the end is kept, for an error message (Caddy logs every startup step).
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4096) })
  child.on('exit', () => { exited = true })
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await gone
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForPort(port, startMs, () => exited)
  } catch (err) {
    await stop()
    return { unavailable: `failed to start: ${pickLine((stderr || err.message).trim().split('\n'))}` }
  }
  const cpu = procCpuMeter(child.pid)
  const calls = { cpuStart: () => cpu.start(), cpuStop: () => cpu.stop() }
  return { port, notes, call: async (type) => calls[type](), stop }
}

module.exports = { findOnPath, freePort, runOutsideProcess }
