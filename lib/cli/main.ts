import { demoPort, readArgs, type CliArgs } from './args.js'
import type { CliProcess } from './cli-process.js'
import { runDemo } from './demo.js'
import { DEFAULT_LISTEN } from './gateway-config.js'
import { HELP } from './help.js'
import { checkConfig, runGateway } from './run-gateway.js'

export type { CliProcess } from './cli-process.js'

// JSON outside lib/ (rootDir): the same relative path works from lib/cli and dist/cli.
const { version } = require('../../package.json') as { version: string }

/**
 * The `lolly` command (bin/lolly.js): resolves with the exit code once the command is done, which
 * for a gateway or the demo is after SIGTERM/SIGINT and a graceful stop.
 */
export async function main (argv: readonly string[], proc: CliProcess): Promise<number> {
  let args: CliArgs
  try {
    args = readArgs(argv)
  } catch (err) {
    proc.stderr.write(`lolly: ${(err as Error).message}\nRun "lolly --help" for usage.\n`)
    return 2
  }
  if (args.help) {
    proc.stdout.write(HELP)
    return 0
  }
  if (args.version) {
    proc.stdout.write(`${version}\n`)
    return 0
  }
  const overrides = { port: args.port, host: args.host }
  if (args.demo) {
    let port: number
    try {
      port = demoPort(args.port, proc.env.PORT)
    } catch (err) {
      proc.stderr.write(`lolly: ${(err as Error).message}\n`)
      return 2
    }
    return runDemo(args.host ?? DEFAULT_LISTEN.host, port, proc)
  }
  if (args.config === undefined) {
    proc.stderr.write('lolly: --config <file> is required (or --demo)\nRun "lolly --help" for usage.\n')
    return 2
  }
  return args.check ? checkConfig(args.config, overrides, proc) : runGateway(args.config, overrides, proc)
}
