import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { CliProcess } from './cli-process.js'
import { buildGateway } from './gateway.js'
import { loadGatewayConfig, type ConfigOverrides, type GatewayConfig } from './gateway-config.js'
import { runUntilSignal } from './graceful-stop.js'
import { startRedirectServer, type RedirectServer } from './redirect-server.js'
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
  const redirects: RedirectServer[] = []
  const closeRedirects = (): Promise<unknown> => Promise.all(redirects.map((redirect) => redirect.close()))
  try {
    config = await loadGatewayConfig(file, overrides)
    app = await buildGateway(config, proc.stdout)
    await app.listen({ host: config.listen.host, port: config.listen.port, listenTextResolver: () => '' })
    // After the https entry listens: its port may have been 0, and the redirects name the real one.
    const httpsPort = (app.server.address() as AddressInfo).port
    for (const entry of config.redirects) redirects.push(await startRedirectServer(entry, httpsPort, app.log))
  } catch (err) {
    proc.stderr.write(`lolly: ${(err as Error).message}\n`)
    await closeRedirects()
    await app?.close()
    return 1
  }
  const running = app
  const address = running.listeningOrigin
  const redirecting = redirects.map((redirect) => redirect.origin)
  const also = redirecting.length === 0 ? '' : `, redirecting ${redirecting.join(', ')} to https`
  running.log.info({ address, protocols: protocols(config), redirects: redirecting, config: file },
    `lolly: gateway listening on ${address} (${protocols(config).join(', ')})${also} ` +
    `(${file}: ${summary(config)}); SIGHUP reloads the file, SIGTERM or SIGINT stops`)

  const reloader = new Reloader(running, config, overrides)
  return runUntilSignal(proc, {
    close: async () => {
      await Promise.all([running.close(), closeRedirects()])
    },
    timeout: () => reloader.config.shutdownTimeout,
    // reload() never rejects: every outcome is logged by the reloader.
    reload: () => { reloader.reload() },
    log: (level, message) => running.log[level](message)
  })
}

/** What the serving entry speaks, as ALPN names it. */
function protocols (config: GatewayConfig): string[] {
  return config.listen.http2 ? ['h2', 'http/1.1'] : ['http/1.1']
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
