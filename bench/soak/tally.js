'use strict'

// What the load saw, by kind of request: how many, how many answered as expected, errors by what
// the client got (a status and its FST_LOLLY_ code, or a client-side error code), latency.

const { createHistogram } = require('node:perf_hooks')

class Tally {
  constructor () {
    this.kinds = new Map()
    this.errorKeys = {}
    this.window = { requests: 0, errors: 0 }
  }

  kind (name) {
    let kind = this.kinds.get(name)
    if (kind === undefined) {
      kind = { requests: 0, ok: 0, expected: {}, errors: 0, latency: createHistogram() }
      this.kinds.set(name, kind)
    }
    return kind
  }

  started (name) {
    this.kind(name).requests++
    this.window.requests++
  }

  ok (name, startedAt) {
    const kind = this.kind(name)
    kind.ok++
    kind.latency.record(Math.max(1, Math.round(performance.now() - startedAt)))
  }

  /** An outcome the load asked for (an application 500, an abort of its own): not an error. */
  expected (name, what) {
    const kind = this.kind(name)
    kind.expected[what] = (kind.expected[what] ?? 0) + 1
  }

  error (name, what) {
    this.kind(name).errors++
    const key = `${name} ${what}`
    this.errorKeys[key] = (this.errorKeys[key] ?? 0) + 1
    this.window.errors++
  }

  /** An answer's error: status and code (from a JSON error body), e.g. `502 FST_LOLLY_BAD_GATEWAY`. */
  static statusKey (status, text) {
    let code = ''
    try { code = JSON.parse(text).code ?? '' } catch {}
    return `${status} ${code}`.trim()
  }

  /** A client-side error: `client ECONNRESET`. */
  static clientKey (err) {
    return `client ${err.code ?? err.name}`
  }

  takeWindow () {
    const window = this.window
    this.window = { requests: 0, errors: 0 }
    return window
  }

  summary () {
    const kinds = {}
    for (const [name, kind] of this.kinds) {
      const ms = (p) => kind.latency.count === 0 ? null : kind.latency.percentile(p)
      kinds[name] = {
        requests: kind.requests,
        ok: kind.ok,
        expected: kind.expected,
        errors: kind.errors,
        latencyMs: { p50: ms(50), p99: ms(99), max: kind.latency.count === 0 ? null : kind.latency.max }
      }
    }
    return { kinds, errors: this.errorKeys }
  }
}

module.exports = { Tally }
