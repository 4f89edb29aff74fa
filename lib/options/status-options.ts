import type { onRequestHookHandler } from 'fastify'
import { invalid, join, readBoolean, readInteger, readSection, type Plain, type Section } from './option-reader.js'

/** A Fastify onRequest hook (async, or with `done`) that guards the status page: reply 401/403, or throw, to refuse. */
export type StatusGuard = onRequestHookHandler

/** The live status page (`status: true` or an object). Off unless set. */
export interface StatusOptions {
  /** Where the page is served; `<path>/targets.json` and `<path>/events` sit under it. Default '/lolly'. */
  path?: string
  /**
   * Guards the three routes (check a token, a session, an IP list). Without it only loopback clients
   * (127.0.0.0/8, ::1) are served and everyone else gets 403. With it, the page also has drain,
   * disable and enable buttons (see `actions`).
   */
  onRequest?: StatusGuard
  /**
   * Serve the per-target drain, disable and enable buttons (and `POST <path>/targets/...`) when
   * `onRequest` is given. Default true; false keeps a guarded page read-only. Without `onRequest`
   * the page is always read-only: loopback alone is no proof of who is asking.
   */
  actions?: boolean
  /** State changes kept for the page to show when it opens (the last N). An integer from 0 to 10000, default 100. */
  history?: number
}

export interface NormalizedStatus {
  path: string
  /** null: loopback clients only. */
  onRequest: StatusGuard | null
  /** Whether the action routes and buttons are served: `actions` and an `onRequest` guard. */
  actions: boolean
  history: number
}

const STATUS_KEYS = ['path', 'onRequest', 'actions', 'history']
const DEFAULT_HISTORY = 100
// Each change is about 200 bytes of JSON in the page's first message: 10,000 of them is 2 MB.
const MAX_HISTORY = 10_000
export const DEFAULT_STATUS_PATH = '/lolly'
// The path is written into the page's script and its Content-Security-Policy, so it stays plain:
// segments of URL-safe characters, no trailing slash, no dot segments.
const STATUS_PATH = /^(\/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)+$/

const STATUS: Section<NormalizedStatus | null, NormalizedStatus> = {
  keys: STATUS_KEYS,
  off: () => null,
  on: () => ({ path: DEFAULT_STATUS_PATH, onRequest: null, actions: false, history: DEFAULT_HISTORY }),
  read (value, where, base) {
    const routePath = value.path ?? base.path
    if (typeof routePath !== 'string' || !STATUS_PATH.test(routePath) || routePath.length > 200) {
      throw invalid(join(where, 'path'), "an absolute path without a trailing slash ('/lolly', '/admin/upstreams')", routePath)
    }
    const onRequest = value.onRequest ?? base.onRequest
    if (onRequest !== null && typeof onRequest !== 'function') {
      throw invalid(join(where, 'onRequest'), 'a Fastify onRequest hook function', onRequest)
    }
    const actions = readBoolean(value, 'actions', where, true)
    const history = readInteger(value, 'history', where, base.history, { min: 0, max: MAX_HISTORY })
    return { path: routePath, onRequest: onRequest as StatusGuard | null, actions: actions && onRequest !== null, history }
  }
}

/** Reads `status`: off by default, `true` for '/lolly' with loopback-only access. */
export function readStatusOptions (options: Plain, path: string): NormalizedStatus | null {
  return readSection(options, 'status', path, null, STATUS)
}
