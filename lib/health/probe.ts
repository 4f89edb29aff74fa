import type { Span } from '@opentelemetry/api'
import type { Dispatcher } from 'undici'
import type { NormalizedHealthCheck, StatusRange } from '../options/health-check-options.js'
import type { Target } from '../pool/target.js'
import { failureReason, isTimeout } from '../proxy/upstream-errors.js'
import type { LollyTracer } from '../tracing/lolly-tracer.js'
import { endProbeSpan, startProbeSpan } from '../tracing/probe-span.js'

/** How one probe went. `error` says why it failed ('status 500', 'timeout', ...); null when it passed. */
export interface ProbeOutcome {
  ok: boolean
  status: number | null
  error: string | null
}

/** What a probe of one target sends: undici dispatch options built once per target, the same for every probe. */
export interface ProbeRequest {
  origin: string
  path: string
  method: 'GET' | 'HEAD'
  headers: Record<string, string>
}

/** Told the outcome of a probe, exactly once, unless the probe was cancelled first. */
export type ProbeReport = (outcome: ProbeOutcome) => void

/**
 * The request that probes `target`: the check's path on the target's origin (or on `port` of its
 * host), with the Host header real traffic sends unless the check sets its own.
 */
export function probeRequestFor (target: Target, check: NormalizedHealthCheck): ProbeRequest {
  let origin = target.origin
  if (check.port !== null) {
    const url = new URL(target.origin)
    url.port = String(check.port)
    origin = url.origin
  }
  const headers = { host: target.host, ...check.headers }
  return { origin, path: check.path, method: check.method, headers }
}

/**
 * One probe: an undici handler (classic API) that judges the answer as it arrives. Thousands of
 * probes a second are the point, so it uses undici's lowest level: no body stream, no promise, no
 * AbortSignal, one timer. Redirects are not followed (dispatch never does), at most `maxBodyBytes`
 * of the body are read before the request is aborted (which closes its connection: a target
 * streaming megabytes costs us `maxBodyBytes`), and the whole probe (connect, headers, body) fails
 * with 'timeout' after `timeout`. A body shorter than the limit is read to its end, which keeps the
 * connection for the next probe.
 */
export class Probe implements Dispatcher.DispatchHandler {
  private readonly check: NormalizedHealthCheck
  private report: ProbeReport | null
  private timer: NodeJS.Timeout | undefined = undefined
  /** Set once undici hands the request over; undefined while it waits for a connection. */
  private abortRequest: ((err?: Error) => void) | undefined = undefined
  private status: number | null = null
  private size = 0
  /** The body read so far, kept only when expect.body will be matched against it. */
  private readonly chunks: Buffer[] | null
  /** Its client span, when probes are traced (lib/tracing). */
  private span: Span | undefined = undefined

  constructor (check: NormalizedHealthCheck, report: ProbeReport) {
    this.check = check
    this.report = report
    this.chunks = check.expectBody === null ? null : []
  }

  /**
   * Sends the probe of `target` through `dispatcher`; `report` may hear how it went before this
   * returns. While an SDK is registered, a probe is traced if `tracing.probes` asks, and below it
   * tracing is suppressed either way (no undici instrumentation span for an untraced probe).
   */
  send (dispatcher: Dispatcher, request: ProbeRequest, tracer: LollyTracer | null = null, target?: Target): void {
    // The argument form needs no closure per probe.
    this.timer = setTimeout(timeOut, this.check.timeout, this)
    this.timer.unref()
    if (tracer === null || !tracer.active) dispatcher.dispatch(request, this)
    else if (!tracer.probes) tracer.dispatchUntraced(dispatcher, request, this)
    else tracer.dispatch(dispatcher, request, this, this.span = startProbeSpan(tracer, target!, request), tracer.root)
  }

  /** Stops the probe without a report (the checker stops or the target left); a no-op once it ended. */
  cancel (): void {
    this.end(null)
  }

  /** Out of time: a failed probe, and a request that must go. */
  timeOut (): void {
    this.end({ ok: false, status: this.status, error: 'timeout' })
  }

  onConnect (abort: (err?: Error) => void): void {
    if (this.report === null) abort(PROBE_ENDED)
    else this.abortRequest = abort
  }

  onHeaders (statusCode: number): boolean {
    // 1xx interim answers (100 Continue, 103 Early Hints) are not the answer.
    if (statusCode >= 200) this.status = statusCode
    return true
  }

  onData (chunk: Buffer): boolean {
    this.size += chunk.length
    this.chunks?.push(chunk)
    if (this.size < this.check.maxBodyBytes) return true
    this.end(this.judge())
    // As undici does when a handler aborts in onData: the request is gone, read no further.
    return false
  }

  onComplete (): void {
    this.end(this.judge())
  }

  onError (err: Error): void {
    // Our own abort comes back here after the probe ended: nothing to say then.
    if (this.report !== null) this.end({ ok: false, status: this.status, error: describeFailure(err) })
  }

  /** Reports `outcome` (none when null) if the probe had not ended yet, and lets go of the request. */
  private end (outcome: ProbeOutcome | null): void {
    const report = this.report
    if (report === null) return
    this.report = null
    clearTimeout(this.timer)
    if (this.span !== undefined) endProbeSpan(this.span, outcome)
    // Aborting a request that completed or failed is a no-op in undici; one still waiting for a
    // connection is aborted when undici hands it over (onConnect).
    this.abortRequest?.(PROBE_ENDED)
    if (outcome !== null) report(outcome)
  }

  private judge (): ProbeOutcome {
    const status = this.status as number
    if (!statusPasses(status, this.check.expectStatus)) return { ok: false, status, error: `status ${status}` }
    const expected = this.check.expectBody
    if (expected !== null) {
      const prefix = Buffer.concat(this.chunks as Buffer[], Math.min(this.size, this.check.maxBodyBytes)).toString('utf8')
      if (!(typeof expected === 'string' ? prefix.includes(expected) : expected.test(prefix))) {
        return { ok: false, status, error: 'body did not match' }
      }
    }
    return { ok: true, status, error: null }
  }
}

// The reason given to undici when a probe lets go of its request; never reported, so one is enough.
const PROBE_ENDED = new Error('health probe ended')

// undici's own connect, headers and body timeouts (set to the probe's timeout) may run out first.
function describeFailure (err: Error): string {
  return isTimeout(err) ? 'timeout' : failureReason(err)
}

function timeOut (probe: Probe): void {
  probe.timeOut()
}

export function statusPasses (status: number, ranges: readonly StatusRange[]): boolean {
  for (let i = 0; i < ranges.length; i++) {
    if (status >= ranges[i].from && status <= ranges[i].to) return true
  }
  return false
}
