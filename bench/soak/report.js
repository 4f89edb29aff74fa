'use strict'

// The soak's output: a line every 10 s while it runs, and the summary at the end.

const mb = (bytes) => Math.round(bytes / 1024 / 1024 * 10) / 10
const STATE = { healthy: 'ok', unhealthy: 'DOWN', ejected: 'EJ', draining: 'dr', disabled: 'off' }

function progressLine ({ elapsed, window, loopP99, flips, blackhole, tunnelsOpen, targets, names }) {
  const { rss, heapUsed } = process.memoryUsage()
  const states = targets.map((t) => `${names[t.url] ?? t.url}=${STATE[t.state] ?? t.state}`).join(' ')
  return `${String(elapsed).padStart(5)}s ${String(Math.round(window.requests / 10)).padStart(4)} req/s ` +
    `${String(window.errors).padStart(3)} err  rss ${mb(rss)} heap ${mb(heapUsed)} MB  loop p99 ${loopP99.toFixed(1)} ms  ` +
    `ws ${tunnelsOpen}  flips ${flips}${blackhole === null ? '' : blackhole ? '  BLACKHOLE' : ''}  ${states}`
}

const pct = (share) => share === null ? 'n/a' : `${(share * 100).toFixed(2)} %`
const count = (map) => Object.entries(map).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'

function printSummary (r) {
  const line = (label, value) => console.log(`${label.padEnd(40)} ${value}`)
  console.log('')
  line('duration', `${r.seconds} s, ${r.connections} connections paced to ${r.rate} req/s`)
  line('network namespace', r.mode.netns ?? `none, ${r.mode.blackhole}`)
  line('blackhole', r.mode.blackhole === 'on' ? `${r.world.blackholes} times` : `off: ${r.mode.blackhole}`)
  line('dns entry (dnsmasq)', r.mode.dns === 'on' ? `${r.world.dnsChanges} answer changes` : `off: ${r.mode.dns}`)
  line('provider entry', `${r.world.providerChanges} changes (every eighth a glitch)`)
  line('flapping target went up/down', `${r.world.flips} times`)
  line('requests', `${r.requests} (${r.requestsPerSecond} req/s)`)
  for (const [kind, k] of Object.entries(r.requestsByKind)) {
    const latency = k.latencyMs.p50 === null ? '' : `  ms p50/p99/max ${k.latencyMs.p50}/${k.latencyMs.p99}/${k.latencyMs.max}`
    const expected = Object.keys(k.expected).length === 0 ? '' : `  (${count(k.expected)})`
    line(`  ${kind}`, `${k.requests} sent, ${k.ok} ok, ${k.errors} errors${latency}${expected}`)
  }
  line('errors', `${r.errors} (${pct(r.errorRate)})`)
  for (const [kind, n] of Object.entries(r.errorsByKind).sort((a, b) => b[1] - a[1])) line(`  ${kind}`, n)
  line('tries per request', count(r.triesPerRequest))
  if (r.mode.blackhole === 'on') line('tries to the blackholed target', count(r.blackholeTries))
  const t = r.tunnels
  line('tunnels opened / closed by client', `${t.opened} / ${t.closedByClient}`)
  line('tunnels closed by the far side / stalled', `${t.closedByOther} / ${t.stalled}`)
  line('tunnel handshakes failed', count(t.failed))
  line('tunnel messages sent / echoed', `${t.messages} / ${t.echoed}`)
  line('tunnels by target', count(t.byTarget))
  const a = r.affinity
  line('affinity: cookie requests', `${a.cookieRequests} (target gone ${a.targetGone}, not healthy ${a.targetNotHealthy})`)
  line('affinity: stickiness while healthy', `${pct(a.stickiness)} of ${a.whileHealthy} (moved by failover ${a.movedByFailover}, moved otherwise ${a.movedOther})`)
  line('state transitions', count(r.transitions.byKind))
  line('  by target', count(r.transitions.byTarget))
  line('membership changes', `${r.membership.added} added, ${r.membership.removed} removed; panics ${r.panics}`)
  line('status event stream', `${r.statusEvents.streams} streams, ${mb(r.statusEvents.bytes)} MB, errors ${count(r.statusEvents.errors)}`)
  const f = r.inflightAtEnd
  line('in flight when the load stopped', `${f.atStop} (tunnels ${f.tunnelsAtStop})`)
  line('in flight at the end', `${f.total} (tunnels ${f.tunnels}), ${f.settledMs} ms later${f.total === 0 ? '' : ` ${JSON.stringify(f.byTarget)}`}`)
  const m = r.memory
  line('RSS start / after warm-up / end', `${m.start.rssMB} / ${m.afterWarmUp.rssMB} / ${m.end.rssMB} MB`)
  line('heap start / after warm-up / end', `${m.start.heapMB} / ${m.afterWarmUp.heapMB} / ${m.end.heapMB} MB (after GC)`)
  line('external start / after warm-up / end', `${m.start.externalMB} / ${m.afterWarmUp.externalMB} / ${m.end.externalMB} MB (buffers)`)
  const l = r.eventLoopDelayMs
  line('event-loop delay p50 / p99 / max', `${l.p50.toFixed(1)} / ${l.p99.toFixed(1)} / ${l.max.toFixed(1)} ms`)
  line('CPU gateway / targets and load', `${r.cpu.gatewayPercent} % / ${r.cpu.peerPercent} % of one core`)
  line('app.close()', `${r.closeMs} ms`)
}

module.exports = { mb, printSummary, progressLine }
