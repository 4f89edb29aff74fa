import { parseArgs } from 'node:util'
import { CliUsageError } from '../errors.js'

/** What the command line asked for. */
export interface CliArgs {
  help: boolean
  version: boolean
  demo: boolean
  /** Validate the file and exit (like `nginx -t`). */
  check: boolean
  config: string | undefined
  /** Overrides the port of the file's serving `listen` entry (and the demo's 3000 and PORT). */
  port: number | undefined
  /** Overrides the host of the file's serving `listen` entry (and the demo's 127.0.0.1). */
  host: string | undefined
}

/** Parses `lolly`'s arguments; anything it does not know is FST_LOLLY_CLI_USAGE. */
export function readArgs (argv: readonly string[]): CliArgs {
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        demo: { type: 'boolean' },
        check: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' }
      }
    }))
  } catch (err) {
    throw new CliUsageError((err as Error).message)
  }
  if (positionals.length > 0) throw new CliUsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  const args: CliArgs = {
    help: values.help === true,
    version: values.version === true,
    demo: values.demo === true,
    check: values.check === true,
    config: values.config as string | undefined,
    port: values.port === undefined ? undefined : readPort(values.port as string, '--port'),
    host: values.host as string | undefined
  }
  if (args.host === '') throw new CliUsageError('--host must not be empty')
  if (args.demo && args.config !== undefined) throw new CliUsageError('--demo runs its own configuration; it cannot be combined with --config')
  if (args.check && args.config === undefined) throw new CliUsageError('--check needs --config <file>')
  return args
}

/** The demo's port: --port, else $PORT (as Heroku-style hosts set it), else 3000. */
export function demoPort (flag: number | undefined, env: string | undefined): number {
  if (flag !== undefined) return flag
  return env === undefined || env === '' ? 3000 : readPort(env, 'PORT')
}

/** A TCP port: an integer from 0 (any free port) to 65535. */
export function readPort (value: string, what: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN
  if (!(port <= 65_535)) throw new CliUsageError(`${what} must be a port number from 0 to 65535, got ${JSON.stringify(value)}`)
  return port
}
