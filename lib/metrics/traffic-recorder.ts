import { CLIENT_ABORTED, CLIENT_BODY_TIMEOUT, type PoolObserver, type StateChange, type TryRecord } from '../pool/pool-events.js'
import { isTimeoutCode } from '../proxy/upstream-errors.js'

/**
 * Everything counted about one target since the app started: tries by outcome, their time to
 * response headers as histogram buckets, and passive ejections. Plain numbers, written per try
 * and read by the metrics' collect() at scrape time, so a request never touches prom-client.
 */
export class TargetTraffic {
  readonly upstream: string
  readonly target: string
  /** Tries that got response headers, by exact status. */
  readonly statuses = new Map<number, number>()
  /** Tries that ended without response headers: timed out, cut because the client left or stalled its body, or any other error. */
  timeouts = 0
  aborted = 0
  errors = 0
  /** Tries per histogram bucket (not cumulative); the last slot is +Inf. Client aborts are left out: their time is the client's. */
  readonly buckets: Float64Array
  durationSum = 0
  durationCount = 0
  ejections = 0

  constructor (upstream: string, target: string, bucketCount: number) {
    this.upstream = upstream
    this.target = target
    this.buckets = new Float64Array(bucketCount + 1)
  }
}

/** Why a try was followed by another: the status it answered, or its error code. */
export type RetryReason = number | string

/**
 * Turns the try records of finished requests into per-target traffic counts, as an observer of every
 * pool. Label values come from the configured target URLs and upstream names (the try records name
 * targets by their URL), never from the client's request, so the number of series stays bounded.
 */
export class TrafficRecorder implements PoolObserver {
  /** Upper bounds of the duration buckets, in milliseconds, ascending. */
  private readonly boundsMs: Float64Array
  private readonly byUpstream = new Map<string, Map<string, TargetTraffic>>()
  /** Retries per upstream, by the reason of the try that failed. */
  readonly retries = new Map<string, Map<RetryReason, number>>()

  constructor (bucketsSeconds: readonly number[]) {
    this.boundsMs = Float64Array.from(bucketsSeconds, (seconds) => seconds * 1000)
  }

  /** The traffic of a target, made on first use; the same object afterwards. */
  traffic (upstream: string, target: string): TargetTraffic {
    let targets = this.byUpstream.get(upstream)
    if (targets === undefined) {
      targets = new Map()
      this.byUpstream.set(upstream, targets)
    }
    let traffic = targets.get(target)
    if (traffic === undefined) {
      traffic = new TargetTraffic(upstream, target, this.boundsMs.length)
      targets.set(target, traffic)
    }
    return traffic
  }

  /** Every target seen so far, including ones since removed: their counters stay (Prometheus counters never go back). */
  * all (): IterableIterator<TargetTraffic> {
    for (const targets of this.byUpstream.values()) yield * targets.values()
  }

  /** Counts the tries of one settled request, tries[from] to tries[to - 1]; every try after the first is a retry. */
  requestSettled (upstream: string, tries: readonly TryRecord[], from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const attempt = tries[i]
      this.recordTry(this.traffic(upstream, attempt.target), attempt)
      if (i > 0) this.recordRetry(upstream, tries[i - 1])
    }
  }

  /** A state change into 'ejected' is one passive ejection. */
  stateChanged (change: StateChange): void {
    if (change.to === 'ejected') this.traffic(change.upstream, change.target).ejections++
  }

  private recordTry (traffic: TargetTraffic, attempt: TryRecord): void {
    const status = attempt.status
    if (status !== undefined) {
      traffic.statuses.set(status, (traffic.statuses.get(status) ?? 0) + 1)
    } else if (attempt.error === CLIENT_ABORTED || attempt.error === CLIENT_BODY_TIMEOUT) {
      traffic.aborted++
      return
    } else if (isTimeoutCode(attempt.error)) {
      traffic.timeouts++
    } else {
      traffic.errors++
    }
    const ms = attempt.durationMs
    const bounds = this.boundsMs
    let slot = 0
    while (slot < bounds.length && ms > bounds[slot]) slot++
    traffic.buckets[slot]++
    traffic.durationSum += ms / 1000
    traffic.durationCount++
  }

  private recordRetry (upstream: string, failed: TryRecord): void {
    let reasons = this.retries.get(upstream)
    if (reasons === undefined) {
      reasons = new Map()
      this.retries.set(upstream, reasons)
    }
    // A try has a status or an error, never neither.
    const reason = (failed.status ?? failed.error) as RetryReason
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
  }
}
