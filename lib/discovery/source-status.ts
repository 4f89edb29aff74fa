/** A discovery source as `app.lolly.sources`, the status page and metrics show it. */
export interface SourceSnapshot {
  upstream: string
  /** `dns:http://api.internal:8080`, `srv:_http._tcp.api.service.consul`, or a provider's name. */
  name: string
  type: 'dns' | 'srv' | 'discover'
  /** Targets the source lists now (those that left and are draining not included). */
  targets: number
  /** When the last good answer came (ms since the epoch); null before the first. */
  lastAnswerAt: number | null
  /** TTL of the last good DNS answer, seconds; null for a provider or before the first answer. */
  ttl: number | null
  /** When the next DNS lookup is due (ms since the epoch); null for a provider. */
  nextLookupAt: number | null
  /** The last failure; kept after the source recovers, with when it happened. */
  lastError: { at: number, message: string } | null
  /** Lookups (for a provider, values and failures) by result. */
  lookups: { ok: number, empty: number, failed: number }
}

/** What a source records about itself; written by that source only, read through snapshot(). */
export class SourceStatus {
  readonly upstream: string
  readonly name: string
  readonly type: SourceSnapshot['type']
  lastAnswerAt: number | null = null
  ttl: number | null = null
  nextLookupAt: number | null = null
  lastError: SourceSnapshot['lastError'] = null
  readonly lookups = { ok: 0, empty: 0, failed: 0 }
  /** How its log lines name it: `dns:http://api.internal of upstream api`. */
  readonly label: string
  /** The fields of its log lines. */
  readonly logFields: { readonly upstream: string, readonly source: string }

  constructor (upstream: string, name: string, type: SourceSnapshot['type']) {
    this.upstream = upstream
    this.name = name
    this.type = type
    this.label = `${name} of upstream ${upstream}`
    this.logFields = { upstream, source: name }
  }

  failed (err: unknown): string {
    this.lookups.failed++
    const message = describeFailure(err)
    this.lastError = { at: Date.now(), message }
    return message
  }

  snapshot (targets: number): SourceSnapshot {
    return {
      upstream: this.upstream,
      name: this.name,
      type: this.type,
      targets,
      lastAnswerAt: this.lastAnswerAt,
      ttl: this.ttl,
      nextLookupAt: this.nextLookupAt,
      lastError: this.lastError,
      lookups: { ...this.lookups }
    }
  }
}

/** `ESERVFAIL: queryA ESERVFAIL api.internal`, or an error's message. */
function describeFailure (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as NodeJS.ErrnoException).code
  return code === undefined || err.message.startsWith(code) ? err.message : `${code}: ${err.message}`
}
