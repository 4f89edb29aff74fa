import type { FastifyInstance } from 'fastify'
import type { Server as TlsServer } from 'node:tls'
import { loadGatewayConfig, type ConfigOverrides, type GatewayConfig } from './gateway-config.js'
import { planReload } from './reload-plan.js'
import { applyTargetChanges, describeChange } from './target-changes.js'
import { fingerprint, type TlsCredentials } from './tls-credentials.js'

export type ReloadOutcome = 'applied' | 'unchanged' | 'invalid' | 'needs-restart' | 'failed'

/**
 * Re-reads the configuration file on SIGHUP and applies it to the running app without a restart:
 * targets are added, removed, re-weighted, enabled or disabled through app.lolly, so targets that
 * did not change keep their health state and connections, and no request in flight is dropped.
 * The TLS certificate and key are read again and, when they changed, serve every new connection
 * (open ones keep theirs). A file that does not pass validation (a certificate that does not parse
 * included), or that changes what only a restart can change, is refused as a whole with one log
 * line, and the running configuration keeps serving. Reloads never overlap.
 */
export class Reloader {
  /** The configuration the app runs with: the last one applied. */
  config: GatewayConfig
  private readonly app: FastifyInstance
  private readonly overrides: ConfigOverrides
  private queue: Promise<unknown> = Promise.resolve()

  constructor (app: FastifyInstance, config: GatewayConfig, overrides: ConfigOverrides) {
    this.app = app
    this.config = config
    this.overrides = overrides
  }

  /** Queues a reload after any running one; resolves with what it did. */
  reload (): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.reloadNow())
    this.queue = run
    return run
  }

  private async reloadNow (): Promise<ReloadOutcome> {
    const log = this.app.log
    const file = this.config.file
    let next: GatewayConfig
    try {
      next = await loadGatewayConfig(file, this.overrides)
    } catch (err) {
      log.error(`lolly: reload refused, still serving the previous configuration: ${(err as Error).message}`)
      return 'invalid'
    }
    const plan = planReload(this.config, next)
    if (plan.restartNeeded.length > 0) {
      log.error({ changed: plan.restartNeeded },
        `lolly: reload of ${file} refused: ${plan.restartNeeded.join(', ')} changed, which needs a restart ` +
        '(only targets, logger.level, shutdownTimeout and the TLS certificate change live); still serving the previous configuration')
      return 'needs-restart'
    }
    if (plan.logLevel !== undefined) log.level = plan.logLevel
    const renewed = this.renewCertificate(next.credentials)
    if (plan.changes.length === 0) {
      this.config = next
      log.info(`lolly: reloaded ${file}: no target changed`)
      return renewed ? 'applied' : 'unchanged'
    }
    try {
      await applyTargetChanges(this.app.lolly, plan.changes, (change) => log.info(`lolly: reload: ${describeChange(change)}`))
    } catch (err) {
      // Unreachable with a validated file unless the app changed under us (a target removed by hand).
      log.error(`lolly: reload of ${file} only partly applied: ${(err as Error).message}; restart to be sure of the running configuration`)
      return 'failed'
    }
    this.config = next
    log.info(`lolly: reloaded ${file}: ${plan.changes.length} target change(s) applied`)
    return 'applied'
  }

  /** Serves new connections with `next` when it differs from the running certificate and key. */
  private renewCertificate (next: TlsCredentials | null): boolean {
    const current = this.config.credentials
    // TLS on or off is a change of `listen`, refused above: with `next`, `current` is there too.
    if (next === null || (current!.cert.equals(next.cert) && current!.key.equals(next.key))) return false
    // The server's own options (ALPN, allowHTTP1) stay; only the certificate and key are replaced.
    ;(this.app.server as unknown as TlsServer).setSecureContext({ cert: next.cert, key: next.key })
    // What is served now, whatever becomes of the rest of this reload: the next one compares with it.
    this.config = { ...this.config, credentials: next }
    const { host, port } = this.config.listen
    this.app.log.info({ cert: next.certFile, fingerprint: fingerprint(next) },
      `lolly: reload: new certificate for ${host}:${port} from ${next.certFile}; open connections keep the one they began with`)
    return true
  }
}
