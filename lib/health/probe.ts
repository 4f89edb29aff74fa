import type { Dispatcher } from 'undici'
import type { NormalizedHealthCheck, StatusRange } from '../options/health-check-options.js'
import type { Target } from '../target.js'
import { failureReason, isTimeout } from '../upstream-errors.js'

/** How one probe went. `error` says why it failed ('status 500', 'timeout', ...); null when it passed. */
export interface ProbeOutcome {
  ok: boolean
  status: number | null
  error: string | null
}

/** What a probe of one target sends; built once per target, the same for every probe. */
export interface ProbeRequest {
  origin: string
  path: string
  method: 'GET' | 'HEAD'
  headers: Record<string, string>
}

// The abort reason of a probe that ran out of time, told apart from a stop by identity.
const TIMED_OUT = new Error('health probe timed out')

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
 * Sends one probe through `dispatcher` and judges the answer. Never throws. Redirects are not
 * followed (undici's request does not), at most `maxBodyBytes` of the body are read before the body
 * is destroyed, and the whole probe (connect, headers, body) is aborted after `timeout` through
 * `controller`, which the caller may also abort to stop the probe.
 */
export async function runProbe (dispatcher: Dispatcher, request: ProbeRequest, check: NormalizedHealthCheck, controller: AbortController): Promise<ProbeOutcome> {
  const timer = setTimeout(() => controller.abort(TIMED_OUT), check.timeout)
  timer.unref()
  let status: number | null = null
  let outcome: ProbeOutcome
  try {
    const { statusCode, body } = await dispatcher.request({ ...request, signal: controller.signal })
    status = statusCode
    const prefix = await readPrefix(body, check.maxBodyBytes, check.expectBody !== null)
    outcome = judge(statusCode, prefix, check)
  } catch (err) {
    outcome = { ok: false, status, error: describeFailure(err as Error, controller.signal) }
  }
  clearTimeout(timer)
  return outcome
}

function describeFailure (err: Error, signal: AbortSignal): string {
  // Aborted: by our timer, or by stop(). Else undici's own connect/headers/body timeout may have come first.
  const timedOut = signal.aborted ? signal.reason === TIMED_OUT : isTimeout(err)
  if (timedOut) return 'timeout'
  return signal.aborted ? 'aborted' : failureReason(err)
}

/**
 * Reads the body up to `limit` bytes, keeping them only when they will be matched. Leaving the loop
 * early destroys the body (and its connection): a target streaming megabytes costs us `limit` bytes.
 * A short body is read to its end, which keeps the connection for the next probe.
 */
async function readPrefix (body: AsyncIterable<Buffer>, limit: number, keep: boolean): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    if (keep) chunks.push(chunk)
    size += chunk.length
    if (size >= limit) break
  }
  return keep ? Buffer.concat(chunks, Math.min(size, limit)).toString('utf8') : ''
}

function judge (status: number, prefix: string, check: NormalizedHealthCheck): ProbeOutcome {
  if (!statusPasses(status, check.expectStatus)) return { ok: false, status, error: `status ${status}` }
  const expected = check.expectBody
  if (expected !== null && !(typeof expected === 'string' ? prefix.includes(expected) : expected.test(prefix))) {
    return { ok: false, status, error: 'body did not match' }
  }
  return { ok: true, status, error: null }
}

export function statusPasses (status: number, ranges: readonly StatusRange[]): boolean {
  for (let i = 0; i < ranges.length; i++) {
    if (status >= ranges[i].from && status <= ranges[i].to) return true
  }
  return false
}
