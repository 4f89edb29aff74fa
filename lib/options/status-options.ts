import type { onRequestHookHandler } from 'fastify'
import { checkKeys, invalid, isPlainObject, join, type Plain } from './option-reader.js'

/** A Fastify onRequest hook (async, or with `done`) that guards the status page: reply 401/403, or throw, to refuse. */
export type StatusGuard = onRequestHookHandler

/** The live status page (`status: true` or an object). Off unless set. */
export interface StatusOptions {
  /** Where the page is served; `<path>/targets.json` and `<path>/events` sit under it. Default '/lolly'. */
  path?: string
  /**
   * Guards the three routes (check a token, a session, an IP list). Without it only loopback clients
   * (127.0.0.0/8, ::1) are served and everyone else gets 403.
   */
  onRequest?: StatusGuard
}

export interface NormalizedStatus {
  path: string
  /** null: loopback clients only. */
  onRequest: StatusGuard | null
}

const STATUS_KEYS = ['path', 'onRequest']
export const DEFAULT_STATUS_PATH = '/lolly'
// The path is written into the page's script and its Content-Security-Policy, so it stays plain:
// segments of URL-safe characters, no trailing slash, no dot segments.
const STATUS_PATH = /^(\/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)+$/

/** Reads `status`: off by default, `true` for '/lolly' with loopback-only access. */
export function readStatusOptions (options: Plain, path: string): NormalizedStatus | null {
  const value = options.status
  const where = join(path, 'status')
  if (value === undefined || value === false) return null
  if (value === true) return { path: DEFAULT_STATUS_PATH, onRequest: null }
  if (!isPlainObject(value)) throw invalid(where, 'a boolean or an object', value)
  checkKeys(value, STATUS_KEYS, where)
  const routePath = value.path ?? DEFAULT_STATUS_PATH
  if (typeof routePath !== 'string' || !STATUS_PATH.test(routePath) || routePath.length > 200) {
    throw invalid(join(where, 'path'), "an absolute path without a trailing slash ('/lolly', '/admin/upstreams')", routePath)
  }
  const onRequest = value.onRequest ?? null
  if (onRequest !== null && typeof onRequest !== 'function') {
    throw invalid(join(where, 'onRequest'), 'a Fastify onRequest hook function', onRequest)
  }
  return { path: routePath, onRequest: onRequest as StatusGuard | null }
}
