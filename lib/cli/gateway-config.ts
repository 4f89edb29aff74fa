import { ConfigFileError, InvalidOptionError } from '../errors.js'
import { dirname } from 'node:path'
import { pick, type Plain } from '../options/option-reader.js'
import { normalizePluginOptions } from '../options/plugin-options.js'
import { refuseReplyFromOption } from '../options/reply-from-options.js'
import { schemaCheck } from '../options/schema-check.js'
import type { NormalizedOptions } from '../options/types.js'
import { readConfigFile } from './config-file.js'
import { CLI_KEYS, gatewaySchema, LOG_LEVELS } from './gateway-schema.js'
import { readListen, type ConfigOverrides, type RedirectEntry, type ServeEntry } from './listen-config.js'
import type { TlsCredentials } from './tls-credentials.js'
import { readRoutes, type RouteConfig } from './route-config.js'

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

const DEFAULT_SHUTDOWN_TIMEOUT = 30_000

const checkGatewayFile = schemaCheck(gatewaySchema, 'the file')

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
  if (input !== null && typeof input === 'object') for (const [key, value] of Object.entries(input)) refuseReplyFromOption(key, value)
  // The whole file at once, before anything starts, so a bad file never half-applies.
  checkGatewayFile(input)
  const object = input as Plain
  const plugin: Plain = {}
  for (const key of Object.keys(object)) {
    if (!CLI_KEYS.includes(key)) plugin[key] = object[key]
  }
  const normalized = normalizePluginOptions(plugin)
  const listen = readListen(object.listen as Plain | Plain[] | undefined, dirname(file), overrides)
  return {
    file,
    listen: listen.serve,
    redirects: listen.redirects,
    credentials: listen.credentials,
    logLevel: pick(pick<Plain>(object, 'logger', {}), 'level', 'info'),
    trustProxy: pick(object, 'trustProxy', false),
    shutdownTimeout: pick(object, 'shutdownTimeout', DEFAULT_SHUTDOWN_TIMEOUT),
    routes: readRoutes(object.routes as Plain[] | undefined, normalized),
    plugin,
    normalized
  }
}

/** The error, its message prefixed with the file: `lolly.yaml: upstreams.api.targets[1].weight must be ...`. */
export function inFile (err: Error, file: string): Error {
  if (!(err instanceof InvalidOptionError)) return new ConfigFileError(file, err.message)
  return new InvalidOptionError(`${file}: ${err.message}`)
}
