import { InvalidOptionError } from '../errors.js'
import { CLIENT_MANAGED, HEADER_VALUE, TOKEN } from '../http/header-names.js'
import {
  checkKeys, invalid, isPlainObject, join, readChoice, readDuration, readInteger, readNumber, readSection, type Plain, type Section
} from './option-reader.js'
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

const HEALTH_CHECK_KEYS = [
  'path', 'method', 'headers', 'port', 'expect', 'maxBodyBytes', 'interval', 'timeout', 'unhealthyInterval',
  'jitter', 'concurrency', 'healthyThreshold', 'unhealthyThreshold', 'initialState'
]
const EXPECT_KEYS = ['status', 'body']
// Visible ASCII only: no space, CR or LF can reach the request line; '#' is never sent, so refuse it.
const PROBE_PATH = /^\/[!-"$-~]*$/
const MAX_BODY_BYTES = 16 * 1024 * 1024
// Probing a target more often than every 10 ms is a typo, not a policy.
const MIN_INTERVAL = 10

// The raw (merged) object each normalised check was read from, so an upstream's `healthCheck: {...}`
// can override the top-level one key by key and still get every default that depends on another key
// (unhealthyInterval follows interval) computed from the merged result.
const sources = new WeakMap<NormalizedHealthCheck, Plain>()

/**
 * `healthCheck`: an object overrides the inherited settings key by key (`expect` too, key by key;
 * `headers` as a whole, like nginx's proxy_set_header).
 */
const HEALTH_CHECK: Section<NormalizedHealthCheck | null, NormalizedHealthCheck> = {
  keys: HEALTH_CHECK_KEYS,
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

const EXPECT_STATUS = {
  min: 100,
  max: 599,
  ranges: true,
  empty: false,
  list: "a non-empty array of statuses (200), ranges ('200-399') or classes ('2xx')",
  entry: "a status from 100 to 599, a range 'from-to' or a class '2xx'"
}

/** Reads `healthCheck` of `object` (a named upstream, or the top level) over `inherited` (see readSection). */
export function readHealthCheck (object: Plain, path: string, inherited: NormalizedHealthCheck | null): NormalizedHealthCheck | null {
  return readSection(object, 'healthCheck', path, inherited, HEALTH_CHECK)
}

function normalize (raw: Plain, path: string): NormalizedHealthCheck {
  const method = readChoice(raw, 'method', path, ['GET', 'HEAD'] as const, 'GET')
  const expect = raw.expect === undefined ? {} : readExpect(raw.expect, join(path, 'expect'))
  const expectBody = expect.body === undefined ? null : readExpectBody(expect.body, join(path, 'expect.body'))
  if (expectBody !== null && method === 'HEAD') {
    throw new InvalidOptionError(`${path}.expect.body cannot be used with ${path}.method 'HEAD' (a HEAD answer has no body)`)
  }
  const interval = readDuration(raw, 'interval', path, 10_000, MIN_INTERVAL)
  const unhealthyInterval = readDuration(raw, 'unhealthyInterval', path, interval, MIN_INTERVAL)
  // 5 s, or half the shorter interval when that is less, so setting only an interval never fails.
  const timeout = readDuration(raw, 'timeout', path, Math.min(5_000, Math.floor(Math.min(interval, unhealthyInterval) / 2)))
  if (timeout >= interval) throw belowError(path, 'interval', timeout, interval)
  if (timeout >= unhealthyInterval) throw belowError(path, 'unhealthyInterval', timeout, unhealthyInterval)
  return {
    path: readProbePath(raw.path, join(path, 'path')),
    method,
    headers: readHeaders(raw.headers, join(path, 'headers')),
    port: raw.port === undefined ? null : readInteger(raw, 'port', path, 0, { min: 1, max: 65_535 }),
    expectStatus: expect.status === undefined ? [{ from: 200, to: 299 }] : readStatusList(expect.status, join(path, 'expect.status'), EXPECT_STATUS),
    expectBody,
    maxBodyBytes: readInteger(raw, 'maxBodyBytes', path, 64 * 1024, { min: 1, max: MAX_BODY_BYTES }),
    interval,
    timeout,
    unhealthyInterval,
    jitter: readNumber(raw, 'jitter', path, 0.1, 0, 1),
    concurrency: readInteger(raw, 'concurrency', path, 16, { min: 1, max: 1024 }),
    healthyThreshold: readInteger(raw, 'healthyThreshold', path, 2, { min: 1, max: 1000 }),
    unhealthyThreshold: readInteger(raw, 'unhealthyThreshold', path, 3, { min: 1, max: 1000 }),
    initialState: readChoice(raw, 'initialState', path, ['healthy', 'unhealthy'] as const, 'healthy')
  }
}

function belowError (path: string, other: string, timeout: number, limit: number): Error {
  return new InvalidOptionError(`${path}.timeout must be below ${path}.${other}, got ${timeout} (${other} ${limit})`)
}

function readExpect (value: unknown, path: string): Plain {
  if (!isPlainObject(value)) throw invalid(path, 'an object { status, body }', value)
  checkKeys(value, EXPECT_KEYS, path)
  return value
}

function readExpectBody (value: unknown, path: string): string | RegExp {
  if (value instanceof RegExp) return new RegExp(value.source, value.flags.replace(/[gy]/g, ''))
  if (typeof value === 'string' && value !== '') return value
  throw invalid(path, 'a non-empty string or a RegExp', value)
}

function readProbePath (value: unknown, path: string): string {
  if (value === undefined) return '/health'
  if (typeof value !== 'string' || !PROBE_PATH.test(value)) {
    throw invalid(path, "a path starting with '/' (visible ASCII, no '#')", value)
  }
  return value
}

function readHeaders (value: unknown, path: string): Record<string, string> {
  const headers: Record<string, string> = Object.create(null)
  if (value !== undefined) {
    if (!isPlainObject(value)) throw invalid(path, 'an object of header names to string values', value)
    for (const [name, headerValue] of Object.entries(value)) {
      const where = `${path}[${JSON.stringify(name)}]`
      const lower = name.toLowerCase()
      if (!TOKEN.test(name)) throw invalid(where, 'named by an HTTP token', name)
      if (CLIENT_MANAGED.has(lower)) throw invalid(where, 'a header the HTTP client does not manage itself', name)
      if (headers[lower] !== undefined) throw invalid(where, 'set once (header names are case-insensitive)', name)
      if (typeof headerValue !== 'string' || !HEADER_VALUE.test(headerValue)) {
        throw invalid(where, 'a string without CR, LF or NUL', headerValue)
      }
      headers[lower] = headerValue
    }
  }
  if (headers['user-agent'] === undefined) headers['user-agent'] = `fastify-lolly-health/${version}`
  return headers
}

// Every setting at its default: what `healthCheck: true` means when nothing is inherited.
const DEFAULT_CHECK = normalize({}, 'healthCheck')
sources.set(DEFAULT_CHECK, {})
