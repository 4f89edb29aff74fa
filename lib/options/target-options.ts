import type { NormalizedTarget } from './types.js'
import { invalid, pick, type Plain } from './option-reader.js'

/** Normalises one target (a URL string or an object), its shape checked by the schema. */
export function readTarget (input: unknown, path: string): NormalizedTarget {
  const object: Plain = typeof input === 'string' ? { url: input } : input as Plain
  const { url, origin, basePath } = readTargetUrl(object.url, typeof input === 'string' ? path : `${path}.url`)
  return {
    url,
    origin,
    basePath,
    name: pick(object, 'name', null),
    weight: pick(object, 'weight', 1),
    backup: pick(object, 'backup', false),
    down: pick(object, 'down', false),
    maxConnections: pick(object, 'maxConnections', 0),
    tier: object.backup === true ? 1 : 0,
    virtualHost: null,
    source: null
  }
}

/** Parses a target URL: http: or https:, an origin plus an optional base path, nothing else. */
export function readTargetUrl (value: unknown, path: string): { url: string, origin: string, basePath: string } {
  // Checked here too: the runtime API's calls (enable, removeTarget) pass a URL without a schema.
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
