import type { onRequestHookHandler } from 'fastify'
import { invalid, join, readSection, type Plain, type Section } from './option-reader.js'

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

const STATUS: Section<NormalizedStatus | null, NormalizedStatus> = {
  keys: STATUS_KEYS,
  off: () => null,
  on: () => ({ path: DEFAULT_STATUS_PATH, onRequest: null }),
  read (value, where, base) {
    const routePath = value.path ?? base.path
    if (typeof routePath !== 'string' || !STATUS_PATH.test(routePath) || routePath.length > 200) {
      throw invalid(join(where, 'path'), "an absolute path without a trailing slash ('/lolly', '/admin/upstreams')", routePath)
    }
    const onRequest = value.onRequest ?? base.onRequest
    if (onRequest !== null && typeof onRequest !== 'function') {
      throw invalid(join(where, 'onRequest'), 'a Fastify onRequest hook function', onRequest)
    }
    return { path: routePath, onRequest: onRequest as StatusGuard | null }
  }
}

/** Reads `status`: off by default, `true` for '/lolly' with loopback-only access. */
export function readStatusOptions (options: Plain, path: string): NormalizedStatus | null {
  return readSection(options, 'status', path, null, STATUS)
}
