import { resolve } from 'node:path'
import { InvalidOptionError } from '../errors.js'
import { invalid, pick, show, type Plain } from '../options/option-reader.js'
import { readTlsCredentials, type TlsCredentials } from './tls-credentials.js'

/** The entry the gateway serves on (Fastify listens there): plain HTTP, HTTPS, or HTTP/2 over TLS. */
export interface ServeEntry {
  host: string
  port: number
  /** The PEM files, as absolute paths (a relative one is read from the config file's folder); null: plain HTTP. */
  tls: { cert: string, key: string } | null
  /** HTTP/2 through ALPN, HTTP/1.1 for clients that do not offer h2. Only with tls. */
  http2: boolean
}

/** A plain-HTTP entry that answers every request with a 308 to the same URL on the serving (TLS) entry. */
export interface RedirectEntry {
  host: string
  port: number
}

/** `listen` of the file, checked. */
export interface ListenConfig {
  serve: ServeEntry
  redirects: RedirectEntry[]
  /** The serving entry's certificate and key as read when the file was loaded; null without tls. */
  credentials: TlsCredentials | null
}

/** Command-line flags that win over the file: they apply to the serving entry. */
export interface ConfigOverrides {
  port?: number | undefined
  host?: string | undefined
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 3000 }
/**
 * Reads `listen`, its shape checked by the file's schema (lib/cli/gateway-schema.ts): one entry (an
 * object, as before), or an array of entries of which exactly one serves and the others redirect
 * plain HTTP to it. Certificate and key files are read and parsed here, so `--check`, a start and a
 * reload all fail on a bad one with its path in the file. `dir` is the config file's folder, which
 * relative file names are read from.
 */
export function readListen (value: Plain | Plain[] | undefined, dir: string, overrides: ConfigOverrides): ListenConfig {
  if (!Array.isArray(value)) return readEntries([{ value: value ?? {}, path: 'listen' }], dir, overrides)
  return readEntries(value.map((entry, i) => ({ value: entry, path: `listen[${i}]` })), dir, overrides)
}

interface Entry {
  path: string
  object: Plain
  host: string
  port: number
  tls: { cert: string, key: string } | null
  http2: boolean
  redirect: boolean
}

function readEntries (raw: Array<{ value: Plain, path: string }>, dir: string, overrides: ConfigOverrides): ListenConfig {
  const entries = raw.map(({ value, path }) => readEntry(value, path, dir))
  const serving = entries.filter((entry) => !entry.redirect)
  if (serving.length === 0) throw invalid('listen', 'a list with one entry that serves (without redirect: true)', raw.map((entry) => entry.value))
  if (serving.length > 1) {
    throw new InvalidOptionError(`${serving[1].path} must be a redirect entry (redirect: true), got ${show(serving[1].object)}: ` +
      `the gateway serves on one address, and ${serving[0].path} serves already`)
  }
  const entry = serving[0]
  const serve: ServeEntry = {
    host: overrides.host ?? entry.host,
    port: overrides.port ?? entry.port,
    tls: entry.tls,
    http2: entry.http2
  }
  const redirects = entries.filter((candidate) => candidate.redirect)
  if (redirects.length > 0 && serve.tls === null) {
    throw invalid(`${redirects[0].path}.redirect`, `false when the serving entry (${entry.path}) has no tls: there is no https to redirect to`, true)
  }
  checkDistinct([{ ...entry, host: serve.host, port: serve.port }, ...redirects])
  return {
    serve,
    redirects: redirects.map(({ host, port }) => ({ host, port })),
    credentials: entry.tls === null ? null : readTlsCredentials(entry.tls, `${entry.path}.tls`)
  }
}

function readEntry (object: Plain, path: string, dir: string): Entry {
  const redirect = pick(object, 'redirect', false)
  const http2 = pick(object, 'http2', false)
  const files = pick<{ cert: string, key: string } | null>(object, 'tls', null)
  const tls = files === null ? null : { cert: resolve(dir, files.cert), key: resolve(dir, files.key) }
  if (redirect && tls !== null) throw invalid(`${path}.redirect`, 'false on an entry with tls (a redirect entry answers plain HTTP)', true)
  if (http2 && tls === null) {
    throw invalid(`${path}.http2`, 'false on an entry without tls (HTTP/2 is served over TLS, with HTTP/1.1 through ALPN; cleartext h2c is not)', true)
  }
  if (redirect && object.port === undefined) throw invalid(`${path}.port`, 'given on a redirect entry (the plain-HTTP port, usually 80)', undefined)
  return { path, object, host: pick(object, 'host', DEFAULT_LISTEN.host), port: pick(object, 'port', DEFAULT_LISTEN.port), tls, http2, redirect }
}

/** Two entries on the same host and port would fail to start with EADDRINUSE; say which ones. */
function checkDistinct (entries: ReadonlyArray<Pick<Entry, 'path' | 'host' | 'port'>>): void {
  const seen = new Map<string, string>()
  for (const entry of entries) {
    if (entry.port === 0) continue
    const key = `${entry.host} ${entry.port}`
    const earlier = seen.get(key)
    if (earlier !== undefined) throw invalid(`${entry.path}.port`, `another port than ${earlier}'s on host ${entry.host}`, entry.port)
    seen.set(key, entry.path)
  }
}
