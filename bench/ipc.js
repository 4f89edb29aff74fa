'use strict'

// Request/reply over the IPC channel of a forked child. Every benchmarked process (upstreams,
// proxies, the health checker) is a child, so nothing it does shares an event loop with the load
// generator, and the parent asks each one for its own CPU use over a measured window.

const { fork } = require('node:child_process')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { createProfiler } = require('./profiler.js')

// How long a child may take to start or to answer one call before the bench gives up on it.
const CALL_TIMEOUT_MS = 30_000

/**
 * Forks `script` with `args` (and Node flags `execArgv`); resolves once the child has sent its `ready` message. The result's
 * `call(type, payload)` sends a request and resolves with the child's answer.
 */
function startChild (script, args = [], execArgv = process.execArgv) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
  const pending = new Map()
  let nextId = 1
  let exited = false

  const failAll = (err) => {
    for (const { reject } of pending.values()) reject(err)
    pending.clear()
  }
  child.on('exit', (code, signal) => {
    exited = true
    failAll(new Error(`${script} exited (${signal ?? code})`))
  })

  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS)
    child.on('message', (message) => {
      if (message.type === 'ready') {
        clearTimeout(timer)
        resolve(message.info)
        return
      }
      const entry = pending.get(message.id)
      if (entry === undefined) return
      pending.delete(message.id)
      if (message.error === undefined) entry.resolve(message.result)
      else entry.reject(new Error(message.error))
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited before it was ready (${signal ?? code})`))
    })
  })

  function call (type, payload) {
    if (exited) return Promise.reject(new Error(`${script} has exited`))
    const id = nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`${script} did not answer ${type} in ${CALL_TIMEOUT_MS} ms`))
      }, CALL_TIMEOUT_MS)
      pending.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value) },
        reject: (err) => { clearTimeout(timer); reject(err) }
      })
      child.send({ id, type, payload })
    })
  }

  /** Asks the child to exit; kills it if it does not. */
  async function stop () {
    if (exited) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    call('exit').catch(() => {})
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await gone
    clearTimeout(timer)
  }

  return { child, pid: child.pid, ready, call, stop }
}

/** Child side: answers the parent's calls with `handlers` plus the CPU and event-loop meters. */
function serveParent (handlers) {
  const cpu = createCpuMeter()
  const loop = createLoopDelayMeter()
  const profiler = createProfiler()
  const all = {
    profileStart: (kind) => profiler.start(kind),
    profileStop: (name) => profiler.stop(name),
    cpuStart: () => cpu.start(),
    cpuStop: () => cpu.stop(),
    loopStart: () => loop.start(),
    loopStop: () => loop.stop(),
    exit: async () => {
      if (handlers.close !== undefined) await handlers.close()
      setImmediate(() => process.exit(0))
    },
    ...handlers
  }
  process.on('message', async ({ id, type, payload }) => {
    const handler = all[type]
    try {
      if (handler === undefined) throw new Error(`unknown call ${type}`)
      const result = await handler(payload)
      process.send({ id, result })
    } catch (err) {
      process.send({ id, error: err.stack ?? String(err) })
    }
  })
  // The parent went away (Ctrl-C, crash): nothing left to measure for.
  process.on('disconnect', () => process.exit(0))
  return { ready: (info) => process.send({ type: 'ready', info }) }
}

/** CPU share of this process over a window: 1.0 is one core fully busy. */
function createCpuMeter () {
  let startUsage
  let startAt
  return {
    start () {
      startUsage = process.cpuUsage()
      startAt = process.hrtime.bigint()
    },
    stop () {
      const used = process.cpuUsage(startUsage)
      const wallUs = Number(process.hrtime.bigint() - startAt) / 1e3
      return { share: (used.user + used.system) / wallUs, cpuUs: used.user + used.system, wallMs: wallUs / 1e3 }
    }
  }
}

// The loop-delay sampler's timer period, ms. Node records the whole time between two of its ticks,
// so the delay is what exceeds the period.
const LOOP_SAMPLE_MS = 10

/** Event-loop delay of this process over a window, in ms. */
function createLoopDelayMeter () {
  let histogram
  return {
    start () {
      histogram = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
      histogram.enable()
    },
    stop () {
      histogram.disable()
      const ms = (ns) => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS)
      return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }
    }
  }
}

module.exports = { startChild, serveParent, createLoopDelayMeter }
