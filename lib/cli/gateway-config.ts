import { ConfigFileError, InvalidOptionError } from '../errors.js'
import { dirname } from 'node:path'
import { checkKeys, invalid, isPlainObject, readChoice, readDuration, readObject, type Plain } from '../options/option-reader.js'
import { readPluginOptions } from '../options/plugin-options.js'
import type { NormalizedOptions } from '../options/types.js'
import { readConfigFile } from './config-file.js'
import { readListen, type ConfigOverrides, type RedirectEntry, type ServeEntry } from './listen-config.js'
import type { TlsCredentials } from './tls-credentials.js'
import { readRoutes, type RouteConfig } from './route-config.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** Fastify's trustProxy: true, a hop count, or the addresses/CIDRs of the proxies in front. */
export type TrustProxy = boolean | number | string | string[]

/** A checked configuration file of the `lolly` command. */
export interface GatewayConfig {
  /** The file as named on the command line: every message about it starts with it. */
  file: string
  /** The entry the gateway serves on, with --host and --port applied. */
  listen: ServeEntry
  /** Plain-HTTP entries that redirect to `listen` (which then has tls). */
  redirects: RedirectEntry[]
  /** The certificate and key of `listen.tls` as read at load: a reload compares them, not their paths. */
  credentials: TlsCredentials | null
  logLevel: LogLevel
  trustProxy: TrustProxy
  /** Longest wait for in-flight requests on SIGTERM/SIGINT, ms; 0 waits as long as they take. */
  shutdownTimeout: number
  routes: RouteConfig[]
  /** Every other key of the file, exactly as written: the options given to `register`. */
  plugin: Record<string, unknown>
  /** The plugin's own reading of `plugin` (its validation), kept to compare targets on reload. */
  normalized: NormalizedOptions
}

export { DEFAULT_LISTEN, type ConfigOverrides } from './listen-config.js'

/** The keys of the file that are the command's own; every other key belongs to the plugin. */
export const CLI_KEYS = ['listen', 'logger', 'routes', 'trustProxy', 'shutdownTimeout']
const LOGGER_KEYS = ['level']

const DEFAULT_SHUTDOWN_TIMEOUT = 30_000

/** Reads, parses and checks a configuration file. Every error names the file and the path in it. */
export async function loadGatewayConfig (file: string, overrides: ConfigOverrides = {}): Promise<GatewayConfig> {
  return readGatewayConfig(await readConfigFile(file), file, overrides)
}

export function readGatewayConfig (input: unknown, file: string, overrides: ConfigOverrides = {}): GatewayConfig {
  try {
    return readUnprefixed(input, file, overrides)
  } catch (err) {
    throw inFile(err as Error, file)
  }
}

function readUnprefixed (input: unknown, file: string, overrides: ConfigOverrides): GatewayConfig {
  if (!isPlainObject(input)) throw invalid('the file', 'an object (a mapping of keys) at the top', input)
  const plugin: Plain = {}
  for (const key of Object.keys(input)) {
    if (!CLI_KEYS.includes(key)) plugin[key] = input[key]
  }
  // The plugin's validation, run before anything starts so a bad file never half-applies; register runs it again.
  const normalized = readPluginOptions(plugin)
  const listen = readListen(input.listen, dirname(file), overrides)
  return {
    file,
    listen: listen.serve,
    redirects: listen.redirects,
    credentials: listen.credentials,
    logLevel: readLogLevel(input.logger),
    trustProxy: readTrustProxy(input.trustProxy),
    shutdownTimeout: readDuration(input, 'shutdownTimeout', '', DEFAULT_SHUTDOWN_TIMEOUT, 0),
    routes: readRoutes(input.routes, normalized),
    plugin,
    normalized
  }
}

function readLogLevel (value: unknown): LogLevel {
  const object = readObject(value ?? {}, 'logger')
  checkKeys(object, LOGGER_KEYS, 'logger')
  return readChoice(object, 'level', 'logger', LOG_LEVELS, 'info')
}

function readTrustProxy (value: unknown): TrustProxy {
  if (value === undefined) return false
  if (typeof value === 'boolean') return value
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value
  if (typeof value === 'string' && value !== '') return value
  if (Array.isArray(value) && value.length > 0 && value.every((entry) => typeof entry === 'string' && entry !== '')) return value as string[]
  throw invalid('trustProxy', 'true, a hop count, or the address(es)/CIDR(s) of the proxies in front', value)
}

// The plugin's message for an unknown top-level key lists only its own keys; the file also has the command's.
const UNKNOWN_TOP_LEVEL = /^([^\s.[\]]+) is not a known option \(known: (.*)\)$/

/** The error, its message prefixed with the file: `lolly.yaml: upstreams.api.targets[1].weight must be ...`. */
export function inFile (err: Error, file: string): Error {
  if (!(err instanceof InvalidOptionError)) return new ConfigFileError(file, err.message)
  const unknown = UNKNOWN_TOP_LEVEL.exec(err.message)
  const message = unknown === null ? err.message : `${unknown[1]} is not a known option (known: ${[...CLI_KEYS, unknown[2]].join(', ')})`
  return new InvalidOptionError(`${file}: ${message}`)
}
