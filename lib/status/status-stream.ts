import type { ServerResponse } from 'node:http'
import type { StateChange } from '../pool/pool-events.js'
import type { Target, TargetSnapshot } from '../pool/target.js'
import { snapshotsOf, statusView, type StatusSource, type StatusView } from './status-view.js'

/** A target in the once-a-second summary: its snapshot and its traffic over the last tick. */
export interface LiveTargetSnapshot extends TargetSnapshot {
  /** Tries sent to it per second; null in the first message, before there is a previous count. */
  rps: number | null
  /** Share (0 to 1) of those tries that failed; null when there were none. */
  errorRate: number | null
}

export type StatusStreamSource = StatusSource

/** Requests and failures of a target at the previous tick. */
interface Counts {
  requests: number
  failures: number
}

// A client this far behind (a stalled tab, a dead connection not yet noticed) is cut off rather
// than letting its backlog grow without bound.
const MAX_BACKLOG_BYTES = 1024 * 1024

/**
 * The status page's Server-Sent Events: a `hello` with every target and the kept state changes on connect, a `state` event
 * for every transition as it happens, and a `summary` every tick with each target's snapshot and
 * its request rate and error rate since the previous one.
 *
 * One timer and one observer per pool serve every client, and both exist only while at least one
 * client is connected: with the page closed the plugin does no status work at all.
 */
export class StatusStream {
  private readonly source: StatusStreamSource
  private readonly tickMs: number
  private readonly clients = new Set<ServerResponse>()
  private readonly previous = new WeakMap<Target, Counts>()
  private timer: NodeJS.Timeout | undefined = undefined
  private unobserve: Array<() => void> = []
  private lastTickAt = 0
  private closed = false

  constructor (source: StatusStreamSource, tickMs = 1000) {
    this.source = source
    this.tickMs = tickMs
  }

  /** Streams to `res`, a response Fastify no longer manages (the reply was hijacked). */
  add (res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx in front would otherwise buffer the stream.
      'x-accel-buffering': 'no'
    })
    if (this.closed) {
      // Only when a request got in after preClose (return503OnClosing: false): it must not hold the close up.
      res.end()
      return
    }
    res.write(`retry: 2000\n\n${message('hello', statusView(this.source, Date.now(), snapshotsOf, true))}`)
    this.clients.add(res)
    res.on('close', () => this.remove(res))
    if (this.clients.size === 1) this.start()
  }

  /** Ends every stream and stops: for the app's preClose, since an open stream keeps the server from closing. */
  close (): void {
    this.closed = true
    for (const res of this.clients) res.end()
    this.clients.clear()
    this.stop()
  }

  private remove (res: ServerResponse): void {
    if (this.clients.delete(res) && this.clients.size === 0) this.stop()
  }

  private start (): void {
    this.unobserve = this.source.pools.map((pool) => pool.observe({ stateChanged: this.onState }))
    this.lastTickAt = Date.now()
    for (const pool of this.source.pools) {
      for (const target of pool.targets) this.previous.set(target, { requests: target.requests, failures: target.failures })
    }
    this.timer = setTimeout(this.tick, this.tickMs)
    this.timer.unref()
  }

  private stop (): void {
    for (const stop of this.unobserve) stop()
    this.unobserve = []
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private readonly onState = (change: StateChange): void => {
    this.broadcast(message('state', change))
  }

  private readonly tick = (): void => {
    const at = Date.now()
    const seconds = Math.max(at - this.lastTickAt, 1) / 1000
    this.lastTickAt = at
    const summary = statusView(this.source, at, (pool) => pool.targets.map((target) => this.live(target, seconds)), false)
    this.broadcast(message('summary', summary))
    this.timer!.refresh()
  }

  private live (target: Target, seconds: number): LiveTargetSnapshot {
    const snapshot = target.snapshot() as LiveTargetSnapshot
    const previous = this.previous.get(target)
    if (previous === undefined) {
      // Added at runtime since the last tick: rates from the next one.
      snapshot.rps = null
      snapshot.errorRate = null
      this.previous.set(target, { requests: target.requests, failures: target.failures })
      return snapshot
    }
    const requests = target.requests - previous.requests
    snapshot.rps = Math.round(requests / seconds * 100) / 100
    snapshot.errorRate = requests === 0 ? null : Math.min(1, (target.failures - previous.failures) / requests)
    previous.requests = target.requests
    previous.failures = target.failures
    return snapshot
  }

  private broadcast (text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BACKLOG_BYTES) res.destroy()
      else res.write(text)
    }
  }
}

function message (event: string, data: StatusView<TargetSnapshot> | StateChange): string {
  // JSON escapes line breaks, so the data is always a single `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}
