import type { FastifyBaseLogger } from 'fastify'
import { readDiscoveredTarget } from '../options/discovery-options.js'
import type { NormalizedProviderSource, NormalizedResolver } from '../options/types.js'
import { afterFailure } from './lookup-delays.js'
import type { DesiredTarget, SourceMembers } from './source-members.js'
import { SourceStatus } from './source-status.js'

/**
 * A `discover` entry: the user's provider, whose async iterable yields the source's whole current
 * set each time it changes. When the iterable throws or ends, the last set stays and `discover` is
 * called again after a backoff (minInterval doubled per failure, up to maxInterval). A value that is
 * not a valid target list is refused as a whole, logged, and the iteration goes on. A provider's empty
 * set is believed at once: a registry that says zero instances means it (a glitch should throw).
 */
export class ProviderSource {
  readonly status: SourceStatus
  private readonly source: NormalizedProviderSource
  private readonly settings: NormalizedResolver
  private readonly members: SourceMembers
  private readonly log: FastifyBaseLogger
  private readonly abort = new AbortController()
  private failures = 0
  private first: (() => void) | undefined = undefined
  private wake: (() => void) | undefined = undefined
  private timer: NodeJS.Timeout | undefined = undefined

  constructor (upstream: string, source: NormalizedProviderSource, settings: NormalizedResolver, members: SourceMembers, log: FastifyBaseLogger) {
    this.status = new SourceStatus(upstream, source.name, 'discover')
    this.source = source
    this.settings = settings
    this.members = members
    this.log = log
  }

  /** Starts the provider; resolves at its first value or its first failure. */
  start (): Promise<void> {
    const first = new Promise<void>((resolve) => { this.first = resolve })
    this.run()
    return first
  }

  close (): void {
    this.abort.abort()
    clearTimeout(this.timer)
    this.wake?.()
  }

  private async run (): Promise<void> {
    const signal = this.abort.signal
    // Ends when the app closes, or when the pool was closed under it (its dispatcher is public).
    while (!this.members.stopped) {
      let failure: unknown = new Error('its iterable ended')
      try {
        for await (const value of this.source.discover({ signal })) {
          if (this.members.stopped) break
          this.took(value)
        }
      } catch (err) {
        failure = err
      }
      if (this.members.stopped) break
      this.failed(failure, 'discover() failed')
      await this.backOff()
    }
    this.abort.abort()
  }

  private took (value: unknown): void {
    let desired: DesiredTarget[]
    try {
      if (!Array.isArray(value)) throw new TypeError(`it yielded ${typeof value}, not an array of targets`)
      desired = value.map((entry, i) => readDiscoveredTarget(entry, `${this.source.name}[${i}]`, this.source.name))
    } catch (err) {
      this.failed(err, 'refused a value of discover()')
      return
    }
    const status = this.status
    if (desired.length === 0) status.lookups.empty++
    else status.lookups.ok++
    status.lastAnswerAt = Date.now()
    if (this.failures > 0) this.log.info(this.status.logFields, `lolly: ${this.status.label} gives target sets again after ${this.failures} ${this.failures === 1 ? 'failure' : 'failures'}`)
    this.failures = 0
    this.members.apply(desired)
    this.settled()
  }

  private failed (err: unknown, what: string): void {
    const message = this.status.failed(err)
    this.failures++
    if (this.failures === 1) {
      this.log.warn({ ...this.status.logFields, error: message }, `lolly: ${this.status.label}: ${what} (${message}); keeping its ${this.members.listed} targets`)
    }
    this.settled()
  }

  private settled (): void {
    this.first?.()
    this.first = undefined
  }

  private backOff (): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve
      this.timer = setTimeout(resolve, afterFailure(this.failures, this.settings, Math.random()))
      this.timer.unref()
    })
  }
}
