import { InvalidOptionError } from '../errors.js'
import { CLIENT_MANAGED, TOKEN } from '../http/header-names.js'
import { invalid, isPlainObject, join, pick, readSection, type Plain, type Section } from './option-reader.js'
import { readStatusList, type StatusRange } from './status-list.js'

export type { StatusRange } from './status-list.js'

// package.json lies outside lib/ (the build's rootDir), so it is required at run time; the relative path
// is the same from lib/options and dist/options.
const { version } = require('../../package.json') as { version: string }

/** What a probe answer must look like to count as a pass. */
export interface HealthCheckExpect {
  /** Statuses that pass: numbers, ranges ('200-399') or classes ('2xx'). Default 2xx. */
  status?: Array<number | string>
  /** A substring of, or a pattern matching, the first `maxBodyBytes` of the body. Default: body not checked. */
  body?: string | RegExp
}

/** Active health checks of an upstream's targets (`healthCheck: { ... }`, or `true` for all defaults). */
export interface HealthCheckOptions {
  /** Path (and query) probed on the target's origin. Default '/health'. */
  path?: string
  /** Default 'GET'. */
  method?: 'GET' | 'HEAD'
  /** Extra request headers. Host defaults to the target's host, User-Agent to fastify-lolly-health/<version>. */
  headers?: Record<string, string>
  /** Probe this port instead of the one traffic goes to. */
  port?: number
  expect?: HealthCheckExpect
  /** Most bytes of a probe's body read (and matched against expect.body). Default 65536. */
  maxBodyBytes?: number
  /** Time between probes of a target that is up, ms. Default 10000. */
  interval?: number
  /** A probe that has not finished after this long fails, ms. Default 5000; must be below the intervals. */
  timeout?: number
  /** Time between probes of a target that is unhealthy, ms. Default: `interval`. */
  unhealthyInterval?: number
  /** Randomness of each wait, as a fraction of it (0 to 1). Default 0.1. */
  jitter?: number
  /** Most probes in flight at once for the upstream. Default 16. */
  concurrency?: number
  /** Consecutive passes that bring an unhealthy target back. Default 2. */
  healthyThreshold?: number
  /** Consecutive failures that take a healthy target out. Default 3. */
  unhealthyThreshold?: number
  /** 'unhealthy': no traffic to a target until it has passed `healthyThreshold` probes. Default 'healthy'. */
  initialState?: 'healthy' | 'unhealthy'
}

export interface NormalizedHealthCheck {
  path: string
  method: 'GET' | 'HEAD'
  /** Lower-cased names; always has user-agent. Host is added per target unless set here. */
  headers: Record<string, string>
  port: number | null
  expectStatus: StatusRange[]
  /** A RegExp here has no g or y flag, so `test` keeps no state between probes. */
  expectBody: string | RegExp | null
  maxBodyBytes: number
  interval: number
  timeout: number
  unhealthyInterval: number
  jitter: number
  concurrency: number
  healthyThreshold: number
  unhealthyThreshold: number
  initialState: 'healthy' | 'unhealthy'
}

// The raw (merged) object each normalised check was read from, so an upstream's `healthCheck: {...}`
// can override the top-level one key by key and still get every default that depends on another key
// (unhealthyInterval follows interval) computed from the merged result.
const sources = new WeakMap<NormalizedHealthCheck, Plain>()

/**
 * `healthCheck`: an object overrides the inherited settings key by key (`expect` too, key by key;
 * `headers` as a whole, like nginx's proxy_set_header).
 */
const HEALTH_CHECK: Section<NormalizedHealthCheck | null, NormalizedHealthCheck> = {
  off: () => null,
  on: (inherited) => inherited ?? DEFAULT_CHECK,
  read (own, where, base) {
    const source = sources.get(base)!
    const merged: Plain = { ...source, ...own }
    if (isPlainObject(source.expect) && isPlainObject(own.expect)) merged.expect = { ...source.expect, ...own.expect }
    const check = normalize(merged, where)
    sources.set(check, merged)
    return check
  }
}

/** Reads `healthCheck` of `object` (a named upstream, or the top level) over `inherited` (see readSection). */
export function readHealthCheck (object: Plain, path: string, inherited: NormalizedHealthCheck | null): NormalizedHealthCheck | null {
  return readSection(object, 'healthCheck', path, inherited, HEALTH_CHECK)
}

function normalize (raw: Plain, path: string): NormalizedHealthCheck {
  const method = pick<'GET' | 'HEAD'>(raw, 'method', 'GET')
  const expect = pick<Plain>(raw, 'expect', {})
  const expectBody = readExpectBody(expect.body as string | RegExp | undefined)
  if (expectBody !== null && method === 'HEAD') {
    throw new InvalidOptionError(`${path}.expect.body cannot be used with ${path}.method 'HEAD' (a HEAD answer has no body)`)
  }
  const interval = pick(raw, 'interval', 10_000)
  const unhealthyInterval = pick(raw, 'unhealthyInterval', interval)
  // 5 s, or half the shorter interval when that is less, so setting only an interval never fails.
  const timeout = pick(raw, 'timeout', Math.min(5_000, Math.floor(Math.min(interval, unhealthyInterval) / 2)))
  if (timeout >= interval) throw belowError(path, 'interval', timeout, interval)
  if (timeout >= unhealthyInterval) throw belowError(path, 'unhealthyInterval', timeout, unhealthyInterval)
  return {
    path: pick(raw, 'path', '/health'),
    method,
    headers: readHeaders(pick<Record<string, string>>(raw, 'headers', {}), join(path, 'headers')),
    port: pick(raw, 'port', null),
    expectStatus: expect.status === undefined ? [{ from: 200, to: 299 }] : readStatusList(expect.status as Array<number | string>, join(path, 'expect.status'), 100, 599),
    expectBody,
    maxBodyBytes: pick(raw, 'maxBodyBytes', 64 * 1024),
    interval,
    timeout,
    unhealthyInterval,
    jitter: pick(raw, 'jitter', 0.1),
    concurrency: pick(raw, 'concurrency', 16),
    healthyThreshold: pick(raw, 'healthyThreshold', 2),
    unhealthyThreshold: pick(raw, 'unhealthyThreshold', 3),
    initialState: pick<'healthy' | 'unhealthy'>(raw, 'initialState', 'healthy')
  }
}

function belowError (path: string, other: string, timeout: number, limit: number): Error {
  return new InvalidOptionError(`${path}.timeout must be below ${path}.${other}, got ${timeout} (${other} ${limit})`)
}

function readExpectBody (value: string | RegExp | undefined): string | RegExp | null {
  if (value === undefined) return null
  return value instanceof RegExp ? new RegExp(value.source, value.flags.replace(/[gy]/g, '')) : value
}

/** Lower-cases the names; refuses what the schema cannot say: headers the client manages, a name set twice. */
function readHeaders (value: Record<string, string>, path: string): Record<string, string> {
  const headers: Record<string, string> = Object.create(null)
  for (const [name, headerValue] of Object.entries(value)) {
    const where = `${path}[${JSON.stringify(name)}]`
    const lower = name.toLowerCase()
    if (!TOKEN.test(name)) throw invalid(where, 'named by an HTTP token', name)
    if (CLIENT_MANAGED.has(lower)) throw invalid(where, 'a header the HTTP client does not manage itself', name)
    if (headers[lower] !== undefined) throw invalid(where, 'set once (header names are case-insensitive)', name)
    headers[lower] = headerValue
  }
  if (headers['user-agent'] === undefined) headers['user-agent'] = `fastify-lolly-health/${version}`
  return headers
}

// Every setting at its default: what `healthCheck: true` means when nothing is inherited.
const DEFAULT_CHECK = normalize({}, 'healthCheck')
sources.set(DEFAULT_CHECK, {})
