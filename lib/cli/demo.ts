import Fastify, { type FastifyInstance } from 'fastify'
import type { Writable } from 'node:stream'
import lolly from '../index.js'
import type { StateChange } from '../pool/pool-events.js'
import type { CliProcess } from './cli-process.js'
import { closeConnectionsWhenDone } from './close-idle-connections.js'
import { startDemoUpstream, type DemoUpstream } from './demo-upstreams.js'
import { runUntilSignal } from './graceful-stop.js'
import { registerProxyRoutes } from './proxy-routes.js'

export interface DemoOptions {
  host: string
  port: number
  /** Where the demo prints what to try and every target state change. */
  out: Writable
  /** Time between health probes of each target, ms. Default 2000. */
  healthInterval?: number
}

export interface Demo {
  readonly app: FastifyInstance
  /** The gateway's origin, `http://127.0.0.1:3000`. */
  readonly url: string
  readonly upstreams: readonly DemoUpstream[]
  close (): Promise<void>
}

const NAMES = ['alpha', 'bravo', 'charlie']

/**
 * `lolly --demo` (what `npm start` runs): three local upstream servers, and a gateway in front of
 * them that balances round robin, probes each every two seconds, ejects one that fails real
 * traffic and fails over to another. Prints what to try, then every target state change.
 */
export async function startDemo (options: DemoOptions): Promise<Demo> {
  const interval = options.healthInterval ?? 2000
  const upstreams = await Promise.all(NAMES.map((name) => startDemoUpstream(name)))
  const app = Fastify({ logger: false })
  const close = async (): Promise<void> => {
    await app.close()
    await Promise.all(upstreams.map((upstream) => upstream.close()))
  }
  try {
    await app.register(lolly, {
      upstreams: { demo: { targets: upstreams.map((upstream) => ({ url: upstream.url, name: upstream.name })) } },
      healthCheck: { path: '/health', interval, timeout: Math.min(1000, interval - 1), healthyThreshold: 2, unhealthyThreshold: 2 },
      // The live status page at /lolly, served to loopback clients only.
      status: true
    })
    closeConnectionsWhenDone(app)
    // Indented and newline-terminated: these are read in a terminal, from curl.
    app.get('/_lolly/targets', async (_request, reply) => reply.type('application/json').send(pretty({
      upstream: 'demo',
      targets: app.lolly.upstreams.demo.targets
    })))
    app.post<{ Params: { name: string, action: string } }>('/_demo/:name/:action', async (request, reply) => {
      const upstream = upstreams.find((candidate) => candidate.name === request.params.name)
      const action = request.params.action
      if (upstream === undefined || (action !== 'fail' && action !== 'recover')) {
        return reply.code(404).type('application/json').send(pretty({ error: `POST /_demo/<${NAMES.join('|')}>/<fail|recover>` }))
      }
      upstream.failing = action === 'fail'
      return reply.type('application/json').send(pretty({ upstream: upstream.name, failing: upstream.failing }))
    })
    await app.register(async (scope) => registerProxyRoutes(scope, [{ prefix: '', rewritePrefix: '', upstream: 'demo' }]))
    app.lolly.on('state', (change: StateChange) => options.out.write(describeStateChange(change)))
    await app.listen({ host: options.host, port: options.port })
  } catch (err) {
    await close()
    throw err
  }
  const url = app.listeningOrigin
  options.out.write(introduction(url, upstreams, app, interval))
  return { app, url, upstreams, close }
}

/** Runs the demo until Ctrl-C (SIGINT) or SIGTERM. Resolves with the exit code. */
export async function runDemo (host: string, port: number, proc: CliProcess): Promise<number> {
  let demo: Demo
  try {
    demo = await startDemo({ host, port, out: proc.stdout })
  } catch (err) {
    proc.stderr.write(`lolly: the demo could not start: ${(err as Error).message}\n`)
    return 1
  }
  return runUntilSignal(proc, {
    close: demo.close,
    timeout: () => 10_000,
    log: (level, message) => (level === 'error' ? proc.stderr : proc.stdout).write(message + '\n')
  })
}

function introduction (url: string, upstreams: readonly DemoUpstream[], app: FastifyInstance, interval: number): string {
  const states = new Map(app.lolly.upstreams.demo.targets.map((target) => [target.url, target.state]))
  const width = 64
  const line = (command: string, what: string): string => `  ${command.padEnd(width)}  # ${what}`
  return [
    `fastify-lolly demo: a gateway on ${url} balancing round robin over three local upstreams,`,
    `with active health checks every ${interval / 1000} s, passive health and failover.`,
    '',
    'Targets:',
    ...upstreams.map((upstream) => `  ${upstream.name.padEnd(8)} ${upstream.url}  ${states.get(upstream.url)}`),
    '',
    'Try:',
    line(`curl ${url}/hello`, 'one request through the gateway'),
    line(`for i in 1 2 3 4 5 6; do curl -s ${url}/hello; done`, 'round robin: alpha, bravo, charlie, alpha, ...'),
    line(`curl ${url}/_lolly/targets`, 'each target\'s state, counters and last probe (JSON)'),
    line(`open ${url}/lolly`, 'the live status page, in a browser'),
    line(`curl -X POST ${url}/_demo/bravo/fail`, 'bravo answers 503: failover hides it, then it is out'),
    line(`curl -X POST ${url}/_demo/bravo/recover`, 'bravo heals: back after two good probes'),
    '',
    'Target state changes are printed below. Ctrl-C stops the demo.',
    ''
  ].join('\n') + '\n'
}

function pretty (value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n'
}

export function describeStateChange (change: StateChange): string {
  const time = new Date(change.at).toISOString().slice(11, 19)
  const name = change.name ?? change.target
  return `  [${time}] ${name} (${change.target}): ${change.from} -> ${change.to} (${change.reason})\n`
}
