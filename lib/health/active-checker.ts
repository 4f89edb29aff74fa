import { performance } from 'node:perf_hooks'
import { buildConnector, Client } from 'undici'
import type { NormalizedHealthCheck } from '../options/health-check-options.js'
import type { MembershipChange, PoolObserver } from '../pool/pool-events.js'
import type { Target } from '../pool/target.js'
import type { LollyTracer } from '../tracing/lolly-tracer.js'
import { Probe, probeRequestFor, type ProbeOutcome, type ProbeReport, type ProbeRequest } from './probe.js'

// The granularity of probe start times, ms (see ActiveChecker#arm).
const PROBE_GRID_MS = 20

/** What the checker needs of its pool: the targets, and the health owner it reports every probe to. */
export interface CheckedPool {
  readonly targets: readonly Target[]
  readonly health: { probed (target: Target, outcome: ProbeOutcome, durationMs: number): void }
  /** Traces probes when asked (lib/tracing); null: never. */
  readonly tracer: LollyTracer | null
}

/** One target's probe schedule and its connection. */
class ProbeSlot {
  readonly target: Target
  readonly request: ProbeRequest
  /** The target's own probe connection: probes of a target never overlap, so one is all it needs. */
  readonly client: Client
  /** Hears the outcome of this slot's probe in flight; one function per target, not per probe. */
  readonly report: ProbeReport
  /** Runs when the wait for the next probe is over; one function per target, not per wait. */
  readonly onDue: () => void
  timer: NodeJS.Timeout | undefined = undefined
  /** The probe in flight; undefined when none is. */
  probe: Probe | undefined = undefined
  startedAt = 0

  constructor (target: Target, request: ProbeRequest, client: Client, report: ProbeReport, onDue: () => void) {
    this.target = target
    this.request = request
    this.client = client
    this.report = report
    this.onDue = onDue
  }
}

/**
 * Active health checks of one pool: each target is probed on its own timer, `interval` apart (or
 * `unhealthyInterval` while it is unhealthy), counted from the end of the previous probe, so probes
 * of one target never overlap; at most `concurrency` run at once, the rest wait in line. Disabled
 * and draining targets are probed too (lastCheck stays fresh for whoever re-enables them). Every
 * result goes to the pool's TargetHealth, which owns the thresholds and the state.
 *
 * Probes go through an undici Client per target of the checker's own, not the targets' pools: a
 * pool at its connection limit must not delay a probe into a timeout, and probes must not take
 * connections real traffic is waiting for. It hears of targets added and removed at runtime as the
 * pool's observer. Nothing is logged per probe; TargetHealth reports transitions.
 */
export class ActiveChecker implements PoolObserver {
  private readonly pool: CheckedPool
  private readonly check: NormalizedHealthCheck
  /** What every probe client is built with; one connector, so TLS sessions are shared. */
  private readonly clientOptions: Client.Options
  private readonly slots = new Map<Target, ProbeSlot>()
  /** Probes due while `concurrency` others were in flight, oldest first. */
  private readonly waiting: ProbeSlot[] = []
  /** Clients of targets that left, still closing: stop() waits for them too. */
  private readonly closing = new Set<Promise<void>>()
  private inflight = 0
  private started = false
  private stopped = false

  constructor (pool: CheckedPool, check: NormalizedHealthCheck, tlsRejectUnauthorized: boolean) {
    this.pool = pool
    this.check = check
    const longestWait = Math.max(check.interval, check.unhealthyInterval) * (1 + check.jitter / 2)
    this.clientOptions = {
      // undici's 300 s defaults would outlive the probe; the probe's own timer aborts it anyway, these
      // make sure no phase on its own can wait longer than the probe may take.
      headersTimeout: check.timeout,
      bodyTimeout: check.timeout,
      connect: buildConnector({ timeout: check.timeout, rejectUnauthorized: tlsRejectUnauthorized }),
      // Keep the connection from one probe to the next (undici's 4 s would drop it between probes of
      // the 10 s default interval); a Keep-Alive hint from the target still wins.
      keepAliveTimeout: Math.ceil(longestWait) + check.timeout
    }
    for (const target of pool.targets) this.add(target)
  }

  /** Schedules the first probe of every target (the app is ready). */
  start (): void {
    this.started = true
    for (const slot of this.slots.values()) this.armFirst(slot)
  }

  /** A target joined or left the pool at runtime. */
  membershipChanged (change: MembershipChange, target: Target): void {
    if (this.stopped) return
    if (change.change === 'removed') {
      this.remove(target)
      return
    }
    const slot = this.add(target)
    if (this.started) this.armFirst(slot)
  }

  /** Cancels every timer and probe and closes every probe connection: nothing happens after this. */
  async stop (): Promise<void> {
    this.stopped = true
    this.waiting.length = 0
    const closing = [...this.closing]
    for (const slot of this.slots.values()) {
      this.cancel(slot)
      closing.push(slot.client.destroy())
    }
    await Promise.all(closing)
  }

  /** Starts watching a target. */
  private add (target: Target): ProbeSlot {
    const request = probeRequestFor(target, this.check)
    const client = new Client(request.origin, this.clientOptions)
    const slot: ProbeSlot = new ProbeSlot(target, request, client, (outcome) => this.finished(slot, outcome), () => this.due(slot))
    this.slots.set(target, slot)
    return slot
  }

  private remove (target: Target): void {
    const slot = this.slots.get(target)!
    this.slots.delete(target)
    if (this.cancel(slot)) this.next()
    const queued = this.waiting.indexOf(slot)
    if (queued !== -1) this.waiting.splice(queued, 1)
    const closing = slot.client.destroy().then(() => { this.closing.delete(closing) })
    this.closing.add(closing)
  }

  /** Clears the slot's timer and cancels its probe; true when a probe was in flight. */
  private cancel (slot: ProbeSlot): boolean {
    clearTimeout(slot.timer)
    slot.timer = undefined
    const probe = slot.probe
    if (probe === undefined) return false
    slot.probe = undefined
    this.inflight--
    probe.cancel()
    return true
  }

  /** The first probe comes within `jitter × interval`, so a fleet restarted together does not probe in step. */
  private armFirst (slot: ProbeSlot): void {
    this.arm(slot, Math.floor(Math.random() * this.check.jitter * this.check.interval), 0)
  }

  // A new timer per wait rather than refresh(): with jitter, every wait has a different length.
  // The probe starts at a PROBE_GRID_MS mark of the clock: probes due within the same few ms wake
  // the process once and share its event-loop turns, which at 1000 probes a second saves more than
  // all our own code costs (measured: 7.7–8.8% of a core without, 5.5–6% with). The mark is the
  // last one before `delay` is up unless that is sooner than `earliest` (the jitter window's
  // start), then the next one: with jitter, waits stay in their window; without, a probe may start
  // up to PROBE_GRID_MS - 1 ms after its interval.
  private arm (slot: ProbeSlot, delay: number, earliest: number): void {
    const now = Date.now()
    let wait = Math.floor((now + delay) / PROBE_GRID_MS) * PROBE_GRID_MS - now
    if (wait < earliest) wait += PROBE_GRID_MS
    slot.timer = setTimeout(slot.onDue, wait)
    slot.timer.unref()
  }

  /** The slot's wait is over: probe now, or line up behind `concurrency` probes in flight. */
  private due (slot: ProbeSlot): void {
    slot.timer = undefined
    if (this.inflight < this.check.concurrency) this.probe(slot)
    else this.waiting.push(slot)
  }

  private probe (slot: ProbeSlot): void {
    this.inflight++
    const probe = new Probe(this.check, slot.report)
    slot.probe = probe
    slot.startedAt = performance.now()
    probe.send(slot.client, slot.request, this.pool.tracer, slot.target)
  }

  /** A probe that was let go by cancel() never gets here: nothing of a stopped checker or a removed target does. */
  private finished (slot: ProbeSlot, outcome: ProbeOutcome): void {
    const durationMs = Math.round((performance.now() - slot.startedAt) * 1000) / 1000
    slot.probe = undefined
    this.inflight--
    this.next()
    this.pool.health.probed(slot.target, outcome, durationMs)
    const base = slot.target.state === 'unhealthy' ? this.check.unhealthyInterval : this.check.interval
    // Uniform in base × (1 ± jitter/2): the mean stays `base`, targets that once fell into step drift apart.
    const earliest = Math.ceil(base * (1 - this.check.jitter / 2))
    this.arm(slot, Math.round(base * (1 + this.check.jitter * (Math.random() - 0.5))), earliest)
  }

  /** A probe ended: the longest waiting one may go. */
  private next (): void {
    const next = this.waiting.shift()
    if (next !== undefined) this.probe(next)
  }
}
