import type { Resolver } from 'node:dns/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { NormalizedDnsSource, NormalizedResolver, NormalizedSrvSource } from '../options/types.js'
import { lookUp, type DnsAnswer } from './dns-answers.js'
import { afterAnswer, afterFailure } from './lookup-delays.js'
import type { SourceMembers } from './source-members.js'
import { SourceStatus } from './source-status.js'

/**
 * A `dns` or `srv` entry, looked up again and again: after each answer's TTL (bounded by the
 * resolver's minInterval and maxInterval), with backoff while lookups fail.
 *
 * - A failed lookup (timeout, SERVFAIL, REFUSED, no server) keeps the last good set: that is Caddy's
 *   grace period and nginx's behaviour, and a DNS outage must not become an outage of the service.
 * - An empty answer (NXDOMAIN, or no records) is believed only once it has lasted `emptyGrace`:
 *   registries answer NXDOMAIN for seconds while they restart or elect a leader, and believing that
 *   at once would drop every target. A set that was really scaled to zero costs, meanwhile, what an
 *   empty pool would have: its targets refuse connections, passive health takes them out, clients get
 *   a 5xx either way. Before the first good answer there is nothing to keep: the pool stays empty.
 * - Each streak of failures or of empty answers is logged when it starts and when it ends, not per lookup.
 */
export class DnsSource {
  readonly status: SourceStatus
  private readonly source: NormalizedDnsSource | NormalizedSrvSource
  private readonly resolver: Resolver
  private readonly settings: NormalizedResolver
  private readonly members: SourceMembers
  private readonly log: FastifyBaseLogger
  private timer: NodeJS.Timeout | undefined = undefined
  private failures = 0
  private empties = 0
  /** When the current run of empty answers began (ms since the epoch); 0 outside one. */
  private emptySince = 0
  private closed = false

  constructor (upstream: string, source: NormalizedDnsSource | NormalizedSrvSource, resolver: Resolver, settings: NormalizedResolver, members: SourceMembers, log: FastifyBaseLogger) {
    this.status = new SourceStatus(upstream, source.name, source.type)
    this.source = source
    this.resolver = resolver
    this.settings = settings
    this.members = members
    this.log = log
  }

  /** Looks the name up for the first time; resolves when that lookup ended, however it ended. */
  start (): Promise<void> {
    return this.lookUp()
  }

  close (): void {
    this.closed = true
    clearTimeout(this.timer)
    this.status.nextLookupAt = null
  }

  private async lookUp (): Promise<void> {
    this.timer = undefined
    const outcome = await lookUp(this.resolver, this.source).then((answer) => answer, (err: unknown) => ({ err }))
    // Closed while it ran (close() cancelled the resolver's queries): nothing more to do.
    if (this.closed) return
    if ('err' in outcome) this.failed(outcome.err)
    else if (outcome.targets.length === 0) this.answeredEmpty()
    else this.answered(outcome)
  }

  private answered (answer: DnsAnswer): void {
    const status = this.status
    status.lookups.ok++
    status.lastAnswerAt = Date.now()
    status.ttl = answer.ttl
    this.answersAgain()
    if (this.emptySince !== 0) this.log.info(this.status.logFields, `lolly: ${this.status.label} has records again`)
    this.empties = 0
    this.emptySince = 0
    this.members.apply(answer.targets.map((config) => ({ config, draining: false })))
    this.schedule(afterAnswer(answer.ttl, this.settings, Math.random()))
  }

  private answeredEmpty (): void {
    this.status.lookups.empty++
    this.empties++
    this.answersAgain()
    const now = Date.now()
    const kept = this.members.listed
    if (kept === 0) {
      this.members.apply([])
      this.schedule(afterFailure(this.empties, this.settings, Math.random()))
      return
    }
    if (this.emptySince === 0) {
      this.emptySince = now
      this.log.warn(this.status.logFields, `lolly: ${this.status.label} answered empty (no such name, or no records); its ${kept} targets keep serving for up to ${this.settings.emptyGrace} ms unless it answers again`)
    }
    const graceLeft = this.emptySince + this.settings.emptyGrace - now
    if (graceLeft <= 0) {
      this.log.warn(this.status.logFields, `lolly: ${this.status.label} has answered empty for ${now - this.emptySince} ms: its ${kept} targets leave`)
      this.members.apply([])
      this.schedule(afterFailure(this.empties, this.settings, Math.random()))
      return
    }
    // Looked up again no later than the end of the grace, so an empty set is believed on time.
    this.schedule(Math.min(graceLeft, afterFailure(this.empties, this.settings, Math.random())))
  }

  /** Ends a streak of failed lookups, saying so. */
  private answersAgain (): void {
    if (this.failures > 0) this.log.info(this.status.logFields, `lolly: ${this.status.label} answers again after ${this.failures} failed ${this.failures === 1 ? 'lookup' : 'lookups'}`)
    this.failures = 0
  }

  private failed (err: unknown): void {
    const message = this.status.failed(err)
    this.failures++
    if (this.failures === 1) {
      this.log.warn({ ...this.status.logFields, error: message }, `lolly: lookup of ${this.status.label} failed (${message}); keeping its ${this.members.listed} targets and retrying with backoff`)
    }
    this.schedule(afterFailure(this.failures, this.settings, Math.random()))
  }

  private schedule (delay: number): void {
    // The pool was closed under it (its dispatcher is public): nothing more to look up for.
    if (this.members.stopped) return
    this.status.nextLookupAt = Date.now() + delay
    this.timer = setTimeout(() => { this.lookUp() }, delay)
    this.timer.unref()
  }
}
