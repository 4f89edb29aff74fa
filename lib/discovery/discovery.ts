import { Resolver } from 'node:dns/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { UpstreamPool } from '../pool/upstream-pool.js'
import { DnsSource } from './dns-source.js'
import { ProviderSource } from './provider-source.js'
import { SourceMembers } from './source-members.js'
import type { SourceSnapshot } from './source-status.js'

interface RunningSource {
  readonly runner: DnsSource | ProviderSource
  readonly members: SourceMembers
  readonly pool: UpstreamPool
  /** The longest `ready()` waits for its first answer, ms. */
  readonly firstAnswerWait: number
}

/**
 * Every pool's discovery sources: made at register, started when the app gets ready (which waits for
 * their first answers, a bounded time), stopped when it closes, before the pools close. One c-ares
 * resolver per pool, with that pool's servers and timeouts.
 */
export class Discovery {
  private readonly sources: RunningSource[] = []
  private readonly resolvers: Resolver[] = []
  private readonly log: FastifyBaseLogger

  constructor (pools: readonly UpstreamPool[], log: FastifyBaseLogger) {
    this.log = log
    for (const pool of pools) {
      const { sources, resolver: settings } = pool.config
      if (sources.length === 0) continue
      const resolver = new Resolver({ timeout: settings.timeout, tries: settings.tries })
      if (settings.servers !== null) resolver.setServers(settings.servers)
      this.resolvers.push(resolver)
      for (const source of sources) {
        const members = new SourceMembers(pool, source, log)
        const runner = source.type === 'discover'
          ? new ProviderSource(pool.name, source, settings, members, log)
          : new DnsSource(pool.name, source, resolver, settings, members, log)
        // c-ares asks each server in turn, `tries` times each; an SRV lookup is two rounds (the
        // records, then their hosts).
        const lookup = settings.timeout * settings.tries
        const firstAnswerWait = source.type === 'discover' ? lookup : lookup * resolver.getServers().length * (source.type === 'srv' ? 2 : 1)
        this.sources.push({ runner, members, pool, firstAnswerWait })
      }
    }
  }

  /**
   * Starts every source and waits for their first answers, each at most as long as its lookup may
   * take (timeout × tries × servers, twice for SRV; a provider's first value: timeout × tries): an
   * app whose names do not resolve yet still starts, with pools that say they wait.
   */
  async start (): Promise<void> {
    await Promise.all(this.sources.map(async ({ runner, firstAnswerWait }) => {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([runner.start(), new Promise<void>((resolve) => { timer = setTimeout(resolve, firstAnswerWait) })])
      clearTimeout(timer)
    }))
    const waiting = new Set(this.sources.filter(({ pool }) => pool.targets.length === 0).map(({ pool }) => pool))
    for (const pool of waiting) {
      const names = this.sources.filter((source) => source.pool === pool).map(({ runner }) => runner.status.name)
      this.log.warn({ upstream: pool.name, sources: names },
        `lolly: upstream ${pool.name} has no target yet: it answers 503 until ${names.join(', ')} ${names.length === 1 ? 'lists' : 'list'} one`)
    }
  }

  /** Stops every lookup and provider; the pools then close every target's connections. */
  stop (): void {
    for (const { runner, members } of this.sources) {
      runner.close()
      members.close()
    }
    for (const resolver of this.resolvers) resolver.cancel()
  }

  snapshots (): SourceSnapshot[] {
    return this.sources.map(({ runner, members }) => runner.status.snapshot(members.listed))
  }
}
