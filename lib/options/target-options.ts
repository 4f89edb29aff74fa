import type { NormalizedTarget } from './types.js'
import { checkKeys, invalid, isPlainObject, join, readBoolean, readInteger, type Plain } from './option-reader.js'

const TARGET_KEYS = ['url', 'name', 'weight', 'backup', 'down', 'maxConnections'] as const
/**
 * The one weight limit, for options, runtime calls and reloads alike. A million is far past any real
 * ratio, and keeps the balancers' arithmetic (sums of weights, 1 / weight) exact.
 */
const MAX_WEIGHT = 1_000_000

/** Validates one target (a URL string or an object) into its normalised form. */
export function readTarget (input: unknown, path: string): NormalizedTarget {
  let object: Plain
  if (typeof input === 'string') {
    object = { url: input }
  } else if (isPlainObject(input)) {
    object = input
    checkKeys(object, TARGET_KEYS, path)
  } else {
    throw invalid(path, 'a URL string or an object with a url', input)
  }
  const urlPath = typeof input === 'string' ? path : `${path}.url`
  const { url, origin, basePath } = readTargetUrl(object.url, urlPath)
  return {
    url,
    origin,
    basePath,
    name: readTargetName(object, path),
    weight: readWeight(object, path),
    backup: readBoolean(object, 'backup', path, false),
    down: readBoolean(object, 'down', path, false),
    maxConnections: readInteger(object, 'maxConnections', path, 0),
    tier: object.backup === true ? 1 : 0,
    virtualHost: null,
    source: null
  }
}

// Shown on the status page, in logs and events: printable text (no control characters) of a sane length.
const TARGET_NAME = /^\P{Cc}{1,100}$/u

/** Reads `name` of `object`: 1 to 100 printable characters, null when absent. */
export function readTargetName (object: Plain, path: string): string | null {
  const name = object.name
  if (name === undefined) return null
  if (typeof name !== 'string' || !TARGET_NAME.test(name)) throw invalid(join(path, 'name'), 'a name of 1 to 100 printable characters', name)
  return name
}

/** Reads `weight` of `object`: an integer from 1 to MAX_WEIGHT, 1 when absent. */
export function readWeight (object: Plain, path: string): number {
  return readInteger(object, 'weight', path, 1, { min: 1, max: MAX_WEIGHT })
}

/** Parses a target URL: http: or https:, an origin plus an optional base path, nothing else. */
export function readTargetUrl (value: unknown, path: string): { url: string, origin: string, basePath: string } {
  if (typeof value !== 'string') throw invalid(path, 'a URL string', value)
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw invalid(path, 'an absolute http: or https: URL', value)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(path, 'an http: or https: URL', value)
  }
  // Credentials, a query or a fragment in a target would silently be dropped or leak: refuse them.
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '' || value.includes('#')) {
    throw invalid(path, 'an origin with an optional path (no credentials, query or fragment)', value)
  }
  const basePath = parsed.pathname === '/' ? '' : parsed.pathname.replace(/\/+$/, '')
  return { url: parsed.origin + basePath, origin: parsed.origin, basePath }
}
