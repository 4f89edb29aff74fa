import type { FastifyInstance } from 'fastify'
import type { CliProcess } from './cli-process.js'
import { buildGateway } from './gateway.js'
import { loadGatewayConfig, type ConfigOverrides, type GatewayConfig } from './gateway-config.js'
import { runUntilSignal } from './graceful-stop.js'
import { Reloader } from './reloader.js'

/** `lolly --check --config <file>`: validates the file like a start would, prints a summary. */
export async function checkConfig (file: string, overrides: ConfigOverrides, proc: CliProcess): Promise<number> {
  let config: GatewayConfig
  try {
    config = await loadGatewayConfig(file, overrides)
  } catch (err) {
    proc.stderr.write(`lolly: ${(err as Error).message}\n`)
    return 1
  }
  proc.stdout.write(`${file}: OK (${summary(config)})\n`)
  return 0
}

/**
 * `lolly --config <file>`: starts the gateway the file describes and runs it until SIGTERM/SIGINT;
 * SIGHUP reloads the file. Resolves with the process's exit code.
 */
export async function runGateway (file: string, overrides: ConfigOverrides, proc: CliProcess): Promise<number> {
  let config: GatewayConfig
  let app: FastifyInstance | undefined
  try {
    config = await loadGatewayConfig(file, overrides)
    app = await buildGateway(config, proc.stdout)
    await app.listen({ host: config.listen.host, port: config.listen.port, listenTextResolver: () => '' })
  } catch (err) {
    proc.stderr.write(`lolly: ${(err as Error).message}\n`)
    await app?.close()
    return 1
  }
  const running = app
  const address = running.listeningOrigin
  running.log.info({ address, config: file },
    `lolly: gateway listening on ${address} (${file}: ${summary(config)}); SIGHUP reloads the file, SIGTERM or SIGINT stops`)

  const reloader = new Reloader(running, config, overrides)
  return runUntilSignal(proc, {
    close: () => running.close(),
    timeout: () => reloader.config.shutdownTimeout,
    // reload() never rejects: every outcome is logged by the reloader.
    reload: () => { reloader.reload() },
    log: (level, message) => running.log[level](message)
  })
}

function summary (config: GatewayConfig): string {
  const upstreams = [...config.normalized.upstreams.values()]
  const targets = upstreams.reduce((sum, upstream) => sum + upstream.targets.length, 0)
  const sources = upstreams.reduce((sum, upstream) => sum + upstream.sources.length, 0)
  const discovered = sources === 0 ? '' : ` and ${count(sources, 'discovery source')}`
  return `${count(upstreams.length, 'upstream')}, ${count(targets, 'target')}${discovered}, ${count(config.routes.length, 'route')}`
}

function count (n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`
}
