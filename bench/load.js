'use strict'

// The load generator: autocannon, run in the bench's parent process (every proxy and upstream is a
// child, so none of them shares its event loop). Latencies are kept exactly (autocannon's own
// histogram rounds to whole milliseconds, too coarse for a p99 ratio at 5 ms).

const autocannon = require('autocannon')

/** Growable list of response times in ms. */
class LatencyRecorder {
  constructor () {
    this.values = new Float64Array(1 << 16)
    this.count = 0
  }

  add (ms) {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.count++] = ms
  }

  /** Nearest-rank percentiles of what was recorded, in ms (null when nothing was). */
  percentiles (...ps) {
    if (this.count === 0) return ps.map(() => null)
    const sorted = this.values.slice(0, this.count).sort()
    return ps.map((p) => sorted[Math.min(this.count - 1, Math.ceil((p / 100) * this.count) - 1)])
  }
}

/**
 * Drives `url` with `connections` keep-alive connections for `seconds`. `onResponse(status, atMs)`
 * and `onError(err, atMs)` see every response and socket error as it happens (`atMs` is Date.now()).
 */
function runLoad ({ url, connections, seconds, onResponse, onError }) {
  return new Promise((resolve, reject) => {
    const latencies = new LatencyRecorder()
    const instance = autocannon({ url, connections, duration: seconds, pipelining: 1, timeout: 10 }, (err, result) => {
      if (err) {
        reject(err)
        return
      }
      const [p50, p99] = latencies.percentiles(50, 99)
      resolve({
        rps: latencies.count / result.duration,
        p50,
        p99,
        responses: latencies.count,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts
      })
    })
    instance.on('response', (client, status, bytes, ms) => {
      latencies.add(ms)
      if (onResponse !== undefined) onResponse(status, Date.now())
    })
    if (onError !== undefined) instance.on('reqError', (err) => onError(err, Date.now()))
  })
}

module.exports = { runLoad }
