'use strict'

// The performance targets, checked against a run's results. Reported, never asserted: on a
// shared two-core machine a miss can be noise, and the table says how far off it was.

const { formatTable, fixed, percent } = require('./table.js')

const PICK_TARGETS = 10_000
const PICK_MAX_NS = 200

function row (target, measured, met) {
  return { target, measured, met }
}

/**
 * The slowest pick at 10000 targets over the pick bench's rows. bench/pick.js owns the row shape:
 * this takes a row's target count from a `targets` (or `size`) field and its cost from `nsPerPick`
 * (or else the first field whose name has `ns` in it).
 */
function slowestPickAt (rows, count) {
  let slowest = null
  for (const r of rows ?? []) {
    if ((r.targets ?? r.size) !== count) continue
    const nsKey = typeof r.nsPerPick === 'number' ? 'nsPerPick' : Object.keys(r).find((key) => /ns/i.test(key) && typeof r[key] === 'number')
    if (nsKey === undefined) continue
    if (slowest === null || r[nsKey] > slowest.ns) slowest = { ns: r[nsKey], balancer: r.balancer ?? r.name ?? '' }
  }
  return slowest
}

function evaluateTargets ({ throughput, pick, healthCheck, failover, oneProcessCost, discovery }) {
  const out = []
  const rows = throughput?.rows ?? []
  const byKey = (key) => rows.find((r) => r.key === key && r.rps !== undefined)
  const lolly = byKey('lolly-round-robin')
  const bare = byKey('reply-from')
  if (lolly !== undefined && bare !== undefined) {
    // Issue 12's targets (the first wave's were 0.95x req/s and 1.1x p99).
    out.push(row('lolly round-robin req/s >= 1.4 x bare reply-from', `x${fixed(lolly.rpsRatio, 2)}`, lolly.rpsRatio >= 1.4))
    out.push(row('lolly round-robin p99 <= bare reply-from\'s', `x${fixed(lolly.p99Ratio, 2)}`, lolly.p99Ratio <= 1))
    for (const [key, name] of [['reply-from-balanced', 'reply-from base array'], ['http-proxy', 'http-proxy']]) {
      const other = byKey(key)
      if (other === undefined) continue
      out.push(row(`lolly round-robin ahead of ${name}`, `${fixed(lolly.rps, 0)} vs ${fixed(other.rps, 0)} req/s`, lolly.rps > other.rps))
    }
  } else {
    out.push(row('lolly round-robin vs bare reply-from', 'not measured', null))
  }

  const slowest = slowestPickAt(pick?.rows, PICK_TARGETS)
  out.push(slowest === null
    ? row(`pick < ${PICK_MAX_NS} ns at ${PICK_TARGETS} targets`, pick?.note ?? 'not measured', null)
    : row(`pick < ${PICK_MAX_NS} ns at ${PICK_TARGETS} targets`, `slowest ${fixed(slowest.ns, 0)} ns (${slowest.balancer})`, slowest.ns < PICK_MAX_NS))

  const probed = healthCheck?.probesPerSecond !== undefined && healthCheck.probesPerSecond >= healthCheck.targets * 0.5
  if (healthCheck?.cpuShare !== undefined && !probed) {
    out.push(row('1000 targets probed every second: < 5% CPU, loop p99 < 20 ms', `no checks ran (${fixed(healthCheck.probesPerSecond, 0)} probes/s)`, null))
  } else if (healthCheck?.cpuShare !== undefined) {
    out.push(row('1000 targets probed every second: < 5% of one core', percent(healthCheck.cpuShare, 1), healthCheck.cpuShare < 0.05))
    out.push(row('... and event-loop delay p99 < 20 ms', `${fixed(healthCheck.loopP99, 1)} ms`, healthCheck.loopP99 < 20))
  } else {
    out.push(row('1000 targets probed every second: < 5% CPU, loop p99 < 20 ms', healthCheck?.note ?? healthCheck?.error ?? 'not measured', null))
  }

  const killed = failover?.rows?.find((r) => r.key === 'lolly-round-robin')
  out.push(killed?.clientErrors === undefined
    ? row('zero client-visible GET errors when a target is killed', killed?.note ?? 'not measured', null)
    : row('zero client-visible GET errors when a target is killed', `${killed.clientErrors} errors`, killed.clientErrors === 0))
  const cost = (app) => oneProcessCost?.rows?.find((r) => r.app === app)
  const floor = cost('bareAgain')
  const noise = floor === undefined ? '' : ` (noise floor x${fixed(floor.ratio, 3)})`
  const costRow = (target, measured, limit) => measured?.ratio === undefined
    ? row(target, oneProcessCost?.error ?? 'not measured', null)
    : row(target, `x${fixed(measured.ratio, 3)}${noise}`, measured.ratio <= limit)
  out.push(costRow('lolly CPU/request <= 0.75 x bare reply-from (one process)', cost('lolly'), 0.75))
  out.push(costRow('metrics on: CPU/request <= 1.03 x metrics off (one process)', cost('lollyMetrics'), 1.03))

  const dns = discovery?.cost
  const dnsTarget = `DNS name of ${dns?.records ?? 1000} A records looked up every second: < 2% of one core`
  out.push(dns?.cpuShare === undefined
    ? row(dnsTarget, dns?.note ?? discovery?.error ?? 'not measured', null)
    : row(dnsTarget, `${percent(dns.cpuShare, 2)} (${fixed(dns.lookupsPerSecond, 2)} lookups/s)`, dns.cpuShare < 0.02))
  return out
}

function formatTargets (targets) {
  const columns = [
    { title: 'target (reported, not asserted)', value: (r) => r.target, align: 'left' },
    { title: 'measured', value: (r) => r.measured, align: 'left' },
    { title: 'met', value: (r) => r.met === null ? 'not measured' : r.met ? 'yes' : 'NO', align: 'left' }
  ]
  return formatTable('Targets from the issue', columns, targets)
}

module.exports = { evaluateTargets, formatTargets }
