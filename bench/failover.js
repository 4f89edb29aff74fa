'use strict'

// Failover under load: three upstream processes, steady GET load through the proxy, and halfway
// through one upstream is killed with SIGKILL (its sockets reset, its port refuses). Reports what
// the clients saw (non-2xx answers and socket errors, and until when) and how long the proxy kept
// sending tries to the dead target: every try there needs a new connection, so the proxy child
// counts failed connection attempts to the dead port (undici's connectError diagnostics channel).

const path = require('node:path')
const { startChild } = require('./ipc.js')
const { runLoad } = require('./load.js')
const { formatTable, fixed } = require('./table.js')
const { startUpstreams } = require('./upstreams.js')

const PROXY = path.join(__dirname, 'proxy.js')

const CONTENDERS = [
  { key: 'lolly-round-robin', label: 'fastify-lolly, round-robin' },
  { key: 'reply-from-balanced', label: '@fastify/reply-from, base array' }
]

// A loop, not Math.max(...list): a bad run can hold more failures than a call has room for arguments.
function latest (times) {
  let last = -Infinity
  for (const at of times) if (at > last) last = at
  return last
}

/** Tries on the dead target after the kill, as failed connection attempts to its port (reply-from). */
function triesFromConnectErrors (connectErrors, deadPort, killedAt) {
  const times = connectErrors.filter((e) => e.port === deadPort && e.at >= killedAt).map((e) => e.at)
  return { count: times.length, lastAt: times.length === 0 ? null : latest(times) }
}

/** Tries on the dead target after the kill, from lolly's per-target `requests` counter (probes excluded). */
function triesFromCounters (changes, deadUrl, killedAt) {
  const dead = changes.filter((c) => c.target.endsWith(deadUrl))
  const before = dead.filter((c) => c.at < killedAt).at(-1)
  const after = dead.filter((c) => c.at >= killedAt)
  if (after.length === 0) return { count: 0, lastAt: null }
  return { count: after.at(-1).requests - (before?.requests ?? 0), lastAt: after.at(-1).at }
}

async function runOne (contender, { connections, seconds, lollyOptions }) {
  const { children: upstreams, listening } = startUpstreams(3)
  let proxy
  try {
    const { ports, targets } = await listening
    proxy = startChild(PROXY, [contender.key, JSON.stringify({ targets, options: lollyOptions })])
    const info = await proxy.ready
    if (info.unavailable !== undefined) return { key: contender.key, contender: contender.label, note: info.unavailable }
    const url = `http://127.0.0.1:${info.port}/payload`
    // Every upstream has open keep-alive connections when the kill comes, as in production.
    await runLoad({ url, connections, seconds: 1 })

    const victim = upstreams[1]
    const deadPort = ports[1]
    const failures = []
    const socketErrorCodes = {}
    const statusCounts = {}
    let killedAt = 0
    await proxy.call('watchStart')
    const startedAt = Date.now()
    const timer = setTimeout(() => {
      killedAt = Date.now()
      victim.child.kill('SIGKILL')
    }, seconds * 500)
    const load = await runLoad({
      url,
      connections,
      seconds,
      onResponse: (status, at) => {
        if (status >= 200 && status <= 299) return
        failures.push(at)
        statusCounts[status] = (statusCounts[status] ?? 0) + 1
      },
      onError: (err, at) => {
        failures.push(at)
        socketErrorCodes[err.code ?? err.message] = (socketErrorCodes[err.code ?? err.message] ?? 0) + 1
      }
    })
    const endedAt = Date.now()
    clearTimeout(timer)
    const watch = await proxy.call('watchStop')

    const deadUrl = `:${deadPort}`
    const { count: deadTries, lastAt: lastTry } = watch.tries === null
      ? triesFromConnectErrors(watch.connectErrors, deadPort, killedAt)
      : triesFromCounters(watch.tries, deadUrl, killedAt)
    const firstOut = watch.states.find((s) => s.target.endsWith(deadUrl) && s.at >= killedAt && s.to !== 'healthy')
    return {
      key: contender.key,
      contender: contender.label,
      requests: load.responses + load.errors,
      clientErrors: load.non2xx + load.errors,
      non2xx: load.non2xx,
      statusCounts,
      socketErrors: load.errors,
      socketErrorCodes,
      errorsBeforeKill: failures.filter((at) => at < killedAt).length,
      lastErrorAfterMs: failures.length === 0 ? null : latest(failures) - killedAt,
      deadTries,
      lastTryAfterMs: lastTry === null ? null : lastTry - killedAt,
      // When tries were still failing in the last second, the proxy never stopped sending them.
      triedUntilEnd: lastTry !== null && endedAt - lastTry < 1_000,
      takenOutAfterMs: firstOut === undefined ? null : firstOut.at - killedAt,
      takenOutAs: firstOut === undefined ? null : `${firstOut.to} (${firstOut.reason})`,
      killAtMs: killedAt - startedAt,
      runMs: endedAt - startedAt,
      note: info.notes.join('; ')
    }
  } finally {
    await Promise.all([proxy?.stop(), ...upstreams.map((u) => u.stop())])
  }
}

async function runFailoverBench ({ connections, seconds, lollyOptions }) {
  const rows = []
  for (const contender of CONTENDERS) rows.push(await runOne(contender, { connections, seconds, lollyOptions }))
  return { settings: { connections, seconds, killAt: 'halfway', signal: 'SIGKILL', upstreams: 3 }, rows }
}

function describeErrors ({ statusCounts, socketErrorCodes }) {
  const parts = [
    ...Object.entries(statusCounts).map(([status, n]) => `${n} x ${status}`),
    ...Object.entries(socketErrorCodes).map(([code, n]) => `${n} x ${code}`)
  ]
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

function formatFailover ({ settings, rows }) {
  const columns = [
    { title: 'contender', value: (r) => r.contender, align: 'left' },
    { title: 'requests', value: (r) => r.requests ?? null },
    { title: 'client errors', value: (r) => r.clientErrors === undefined ? null : `${r.clientErrors}${describeErrors(r)}` },
    { title: 'last error after kill', value: (r) => r.lastErrorAfterMs === null || r.lastErrorAfterMs === undefined ? null : `${fixed(r.lastErrorAfterMs, 0)} ms` },
    { title: 'tries on dead target', value: (r) => r.deadTries ?? null },
    { title: 'dead target tried for', value: (r) => r.lastTryAfterMs === null || r.lastTryAfterMs === undefined ? null : `${fixed(r.lastTryAfterMs, 0)} ms${r.triedUntilEnd ? ' (until the end)' : ''}` },
    { title: 'taken out after', value: (r) => r.takenOutAfterMs === null || r.takenOutAfterMs === undefined ? null : `${fixed(r.takenOutAfterMs, 0)} ms, ${r.takenOutAs}` },
    { title: 'notes', value: (r) => r.note || '', align: 'left' }
  ]
  const title = `Failover: ${settings.connections} connections, ${settings.seconds} s of GETs, one of 3 upstreams SIGKILLed halfway`
  return formatTable(title, columns, rows)
}

module.exports = { runFailoverBench, formatFailover }
