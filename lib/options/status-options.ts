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
   * (127.0.0.0/8, ::1) are served and everyone else gets 403.
   */
  onRequest?: StatusGuard
}

export interface NormalizedStatus {
  path: string
  /** null: loopback clients only. */
  onRequest: StatusGuard | null
}

export const DEFAULT_STATUS_PATH = '/lolly'
const STATUS: Section<NormalizedStatus | null, NormalizedStatus> = {
  off: () => null,
  on: () => ({ path: DEFAULT_STATUS_PATH, onRequest: null }),
  read: (value, _where, base) => ({ path: pick(value, 'path', base.path), onRequest: pick(value, 'onRequest', base.onRequest) })
}

/** Reads `status`: off by default, `true` for '/lolly' with loopback-only access. */
export function readStatusOptions (options: Plain, path: string): NormalizedStatus | null {
  return readSection(options, 'status', path, null, STATUS)
}
