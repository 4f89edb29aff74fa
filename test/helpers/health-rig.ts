import { Writable } from 'node:stream'
import FakeTimers from '@sinonjs/fake-timers'
import Fastify, { type FastifyInstance } from 'fastify'
import lolly from '../../lib/index.js'
import type { LollyOptions } from '../../lib/options/types.js'
import type { TargetSnapshot } from '../../lib/pool/target.js'
import type { StateChange } from '../../lib/pool/pool-events.js'

/**
 * Fakes setTimeout and Date only: sockets, setImmediate and nextTick stay real, so real upstream
 * servers answer while ejection and slow-start timers wait for `clock.tick`. Install it before
 * registering the plugin (the pools read the clock through the Date.now they were given).
 */
export function installClock (): ReturnType<typeof FakeTimers.install> {
  return FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 1_700_000_000_000 })
}

export interface Rig {
  app: FastifyInstance
  /** Every state change, in order. */
  changes: StateChange[]
  /** Every log line the app wrote, parsed. */
  logs: Array<{ level: number, msg: string, [key: string]: unknown }>
  /** The target of `url` as a snapshot, or undefined. */
  target (url: string, upstream?: string): TargetSnapshot | undefined
  /** Sends GET requests until `done()` holds (at most `max`); returns the responses' first words. */
  hitUntil (done: () => boolean, max?: number, path?: string): Promise<string[]>
  /** Sends `n` GET requests; returns their first words (the upstream's name, or the error status). */
  hit (n: number, path?: string): Promise<string[]>
}

/** A stream for a Fastify logger, and the lines written to it, parsed. */
export function capturedLogs (): { stream: Writable, logs: Rig['logs'] } {
  const logs: Rig['logs'] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line))
      cb()
    }
  })
  return { stream, logs }
}

/** A Fastify app with the plugin, a catch-all proxy route, and its log lines captured. */
export async function buildRig (options: LollyOptions): Promise<Rig> {
  const { stream, logs } = capturedLogs()
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(lolly, options)
  app.all('/*', (_req, reply) => reply.from())
  const changes: StateChange[] = []
  app.lolly.on('state', (change) => changes.push(change))

  async function once (path: string): Promise<string> {
    const res = await app.inject(path)
    return res.statusCode === 200 ? res.body.split(' ')[0] : String(res.statusCode)
  }
  return {
    app,
    changes,
    logs,
    target (url, upstream = 'default') {
      return app.lolly.upstreams[upstream].targets.find((t) => t.url === url)
    },
    async hitUntil (done, max = 200, path = '/') {
      const seen: string[] = []
      while (!done()) {
        if (seen.length === max) throw new Error(`condition not met after ${max} requests (${seen.join(' ')})`)
        seen.push(await once(path))
      }
      return seen
    },
    async hit (n, path = '/') {
      const seen: string[] = []
      for (let i = 0; i < n; i++) seen.push(await once(path))
      return seen
    }
  }
}

/** How often each answer occurs. */
export function tally (seen: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const s of seen) counts[s] = (counts[s] ?? 0) + 1
  return counts
}
