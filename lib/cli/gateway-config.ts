import { ConfigFileError, InvalidOptionError } from '../errors.js'
import { checkKeys, invalid, isPlainObject, readChoice, readDuration, readInteger, readObject, readString, type Plain } from '../options/option-reader.js'
import { readPluginOptions } from '../options/plugin-options.js'
import type { NormalizedOptions } from '../options/types.js'
import { readConfigFile } from './config-file.js'
import { readRoutes, type RouteConfig } from './route-config.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** Fastify's trustProxy: true, a hop count, or the addresses/CIDRs of the proxies in front. */
export type TrustProxy = boolean | number | string | string[]

/** A checked configuration file of the `lolly` command. */
export interface GatewayConfig {
  /** The file as named on the command line: every message about it starts with it. */
  file: string
  listen: { host: string, port: number }
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

/** Command-line flags that win over the file. */
export interface ConfigOverrides {
  port?: number | undefined
  host?: string | undefined
}

/** The keys of the file that are the command's own; every other key belongs to the plugin. */
export const CLI_KEYS = ['listen', 'logger', 'routes', 'trustProxy', 'shutdownTimeout']
const LISTEN_KEYS = ['host', 'port']
const LOGGER_KEYS = ['level']

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 3000 }
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
  return {
    file,
    listen: readListen(input.listen, overrides),
    logLevel: readLogLevel(input.logger),
    trustProxy: readTrustProxy(input.trustProxy),
    shutdownTimeout: readDuration(input, 'shutdownTimeout', '', DEFAULT_SHUTDOWN_TIMEOUT, 0),
    routes: readRoutes(input.routes, normalized),
    plugin,
    normalized
  }
}

function readListen (value: unknown, overrides: ConfigOverrides): GatewayConfig['listen'] {
  const object = readObject(value ?? {}, 'listen')
  checkKeys(object, LISTEN_KEYS, 'listen')
  return {
    host: overrides.host ?? readString(object, 'host', 'listen', DEFAULT_LISTEN.host),
    port: overrides.port ?? readInteger(object, 'port', 'listen', DEFAULT_LISTEN.port, { max: 65_535 })
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
