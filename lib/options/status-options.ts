import type { onRequestHookHandler } from 'fastify'
import { pick, readSection, type Plain, type Section } from './option-reader.js'

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
  /** State changes kept for the page to show when it opens (the last N). An integer from 0 to 1000, default 100. */
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

const DEFAULT_HISTORY = 100
export const DEFAULT_STATUS_PATH = '/lolly'
const STATUS: Section<NormalizedStatus | null, NormalizedStatus> = {
  off: () => null,
  on: () => ({ path: DEFAULT_STATUS_PATH, onRequest: null, actions: false, history: DEFAULT_HISTORY }),
  read (value, _where, base) {
    const onRequest = pick(value, 'onRequest', base.onRequest)
    // Buttons only behind a guard: being on loopback says nothing of who is asking.
    return { path: pick(value, 'path', base.path), onRequest, actions: pick(value, 'actions', true) && onRequest !== null, history: pick(value, 'history', base.history) }
  }
}

/** Reads `status`: off by default, `true` for '/lolly' with loopback-only access. */
export function readStatusOptions (options: Plain, path: string): NormalizedStatus | null {
  return readSection(options, 'status', path, null, STATUS)
}
