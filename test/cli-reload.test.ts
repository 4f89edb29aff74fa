import { test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildGateway } from '../lib/cli/gateway.js'
import { loadGatewayConfig, readGatewayConfig } from '../lib/cli/gateway-config.js'
import { diffTargets, planReload } from '../lib/cli/reload-plan.js'
import { Reloader } from '../lib/cli/reloader.js'
import { applyTargetChanges, describeChange, type TargetControl } from '../lib/cli/target-changes.js'
import type { NormalizedTarget } from '../lib/options/types.js'
import { startUpstream, type Upstream } from './helpers/upstreams.js'
import { startDnsmasq } from './helpers/dnsmasq.js'
import { startFleet } from './helpers/fleet.js'

function config (raw: Record<string, unknown>) {
  return readGatewayConfig(raw, 'f.yaml')
}

function target (url: string, extra: Partial<NormalizedTarget> = {}): NormalizedTarget {
  return { url, origin: url, basePath: '', name: null, weight: 1, backup: false, down: false, maxConnections: 0, tier: extra.backup === true ? 1 : 0, virtualHost: null, source: null, ...extra }
}

test('target diff: adds first, then updates, then removals; unchanged targets are left alone', (t) => {
  const before = [target('http://a'), target('http://b', { weight: 2 }), target('http://c'), target('http://d'), target('http://e', { down: true }), target('http://f')]
  const after = [target('http://a'), target('http://b', { weight: 5 }), target('http://d', { backup: true }), target('http://e'), target('http://f', { down: true }), target('http://g', { weight: 3 })]
  t.same(diffTargets('api', before, after), [
    { kind: 'add', upstream: 'api', url: 'http://g', target: { url: 'http://g', weight: 3, backup: false, down: false, maxConnections: 0 } },
    { kind: 'weight', upstream: 'api', url: 'http://b', weight: 5 },
    { kind: 'replace', upstream: 'api', url: 'http://d', target: { url: 'http://d', weight: 1, backup: true, down: false, maxConnections: 0 } },
    { kind: 'enable', upstream: 'api', url: 'http://e' },
    { kind: 'disable', upstream: 'api', url: 'http://f' },
    { kind: 'remove', upstream: 'api', url: 'http://c' }
  ])
  t.same(diffTargets('api', [target('http://a', { maxConnections: 1 })], [target('http://a', { maxConnections: 2 })]).map((c) => c.kind), ['replace'])
  t.same(diffTargets('api', [target('http://a')], [target('http://a', { name: 'alpha' })]), [
    { kind: 'replace', upstream: 'api', url: 'http://a', target: { url: 'http://a', name: 'alpha', weight: 1, backup: false, down: false, maxConnections: 0 } }
  ], 'a new name replaces the target: a target keeps its name for life')
  t.same(diffTargets('api', before, before), [])
  t.end()
})

test('reload plan: targets by normalised URL, log level and shutdownTimeout live, anything else needs a restart', (t) => {
  const base = { upstreams: { api: { targets: ['http://a:1/'] } }, routes: [{ prefix: '/', upstream: 'api' }] }
  const same = planReload(config(base), config({ ...base, upstreams: { api: { targets: ['http://a:1'] } } }))
  t.same(same, { restartNeeded: [], changes: [], logLevel: undefined, shutdownTimeout: undefined })

  const live = planReload(config(base), config({ ...base, logger: { level: 'debug' }, shutdownTimeout: 5, upstreams: { api: { targets: ['http://a:1', 'http://b:1'] } } }))
  t.same(live.restartNeeded, [])
  t.same(live.changes.map((c) => `${c.kind} ${c.url}`), ['add http://b:1'])
  t.equal(live.logLevel, 'debug')
  t.equal(live.shutdownTimeout, 5)

  const restart = planReload(config({ ...base, xForwarded: true }), config({
    listen: { port: 1 },
    trustProxy: true,
    routes: [{ prefix: '/x', upstream: 'api' }],
    upstreams: { api: { targets: ['http://a:1'], balancer: 'p2c' }, web: { targets: ['http://w:1'] } },
    balancer: 'random'
  }))
  t.same(restart.restartNeeded, ['listen', 'trustProxy', 'routes', 'xForwarded', 'balancer', 'upstreams added (web)', 'upstreams.api.balancer'])

  const removed = planReload(config({ upstreams: { api: { targets: ['http://a:1'] }, web: { targets: ['http://w:1'] } } }), config({ upstreams: { api: { targets: ['http://a:1'] } } }))
  t.same(removed.restartNeeded, ['upstreams removed (web)'])

  const single = planReload(config({ targets: ['http://a:1'], healthCheck: true }), config({ targets: ['http://a:1', 'http://b:1'], healthCheck: { interval: 1000, timeout: 500 } }))
  t.same(single.restartNeeded, ['healthCheck'], 'the top-level form compares its settings too')
  t.same(single.changes.map((c) => c.upstream), ['default'])
  t.end()
})

test('reload plan: dns and srv entries keep running when unchanged; a changed one or its resolver needs a restart', (t) => {
  const base = { upstreams: { api: { targets: ['http://a:1', { dns: 'http://api.lolly.test:8080' }, { srv: '_http._tcp.api.lolly.test' }] } } }
  const same = planReload(config(base), config({ upstreams: { api: { targets: ['http://a:1', 'http://b:1', { dns: 'http://api.lolly.test:8080/' }, { srv: '_http._tcp.api.lolly.test' }] } } }))
  t.same(same.restartNeeded, [])
  t.same(same.changes.map((c) => `${c.kind} ${c.url}`), ['add http://b:1'], 'static targets change live beside the sources')

  const changed = planReload(config(base), config({ upstreams: { api: { targets: ['http://a:1', { dns: 'http://api.lolly.test:8080', weight: 2 }, { srv: '_http._tcp.api.lolly.test' }] } } }))
  t.same(changed.restartNeeded, ['upstreams.api.targets (dns or srv entries changed)'])
  const resolver = planReload(config(base), config({ ...base, resolver: { servers: ['127.0.0.1:5353'] } }))
  t.same(resolver.restartNeeded, ['resolver'])
  t.end()
})

test('applying changes: in order, removals wait, the first failure is reported after trying all', async (t) => {
  const calls: string[] = []
  let finishRemoval = (): void => {}
  const control: TargetControl = {
    addTarget: (upstream, options) => { calls.push(`add ${options.url}`) },
    removeTarget: (upstream, url) => {
      calls.push(`remove ${url}`)
      return new Promise<void>((resolve) => { finishRemoval = resolve })
    },
    setWeight: (upstream, url, weight) => {
      if (weight === 13) throw new Error('unlucky')
      calls.push(`weight ${url} ${weight}`)
    },
    enable: (upstream, url) => { calls.push(`enable ${url}`) },
    disable: (upstream, url) => { calls.push(`disable ${url}`) }
  }
  const applied: string[] = []
  const done = applyTargetChanges(control, [
    { kind: 'add', upstream: 'u', url: 'http://a', target: { url: 'http://a' } },
    { kind: 'replace', upstream: 'u', url: 'http://b', target: { url: 'http://b', backup: true } },
    { kind: 'weight', upstream: 'u', url: 'http://c', weight: 13 },
    { kind: 'enable', upstream: 'u', url: 'http://d' },
    { kind: 'disable', upstream: 'u', url: 'http://e' }
  ], (change) => applied.push(describeChange(change)))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(calls, ['add http://a', 'remove http://b', 'enable http://d', 'disable http://e'], 'the replacement waits for its removal')
  finishRemoval()
  await t.rejects(done, { message: 'unlucky' })
  t.same(calls.at(-1), 'add http://b', 're-added once removed')
  t.same(applied, [
    'added http://a to upstream u',
    'enabled http://d of upstream u',
    'disabled http://e of upstream u',
    'replaced http://b of upstream u (backup, maxConnections or name changed)'
  ])
  t.equal(describeChange({ kind: 'weight', upstream: 'u', url: 'http://c', weight: 2 }), 'set the weight of http://c of upstream u to 2')
  t.equal(describeChange({ kind: 'remove', upstream: 'u', url: 'http://c' }), 'removed http://c from upstream u (after its in-flight requests)')

  const failing: TargetControl = { ...control, removeTarget: () => Promise.reject(new Error('gone')) }
  await t.rejects(applyTargetChanges(failing, [{ kind: 'remove', upstream: 'u', url: 'http://x' }], () => {}), { message: 'gone' })
})

interface Rig {
  app: FastifyInstance
  reloader: Reloader
  file: string
  logs: Array<{ level: number, msg: string, [key: string]: unknown }>
  write (yaml: string): Promise<void>
  get (url: string): Promise<string>
}

async function rig (t: { teardown (fn: () => unknown): void }, yaml: string): Promise<Rig> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lolly-reload-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'lolly.yaml')
  const write = (text: string): Promise<void> => writeFile(file, text)
  await write(yaml)
  const logs: Rig['logs'] = []
  const stream = new PassThrough()
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => { for (const line of chunk.split('\n')) if (line !== '') logs.push(JSON.parse(line)) })
  const config = await loadGatewayConfig(file)
  const app = await buildGateway(config, stream)
  t.teardown(() => app.close())
  const reloader = new Reloader(app, config, {})
  const get = async (url: string): Promise<string> => (await app.inject(url)).body
  return { app, reloader, file, logs, write, get }
}

/** An upstream that answers with its name and the client port the gateway's connection came from. */
function portReporter (name: string): Promise<Upstream> {
  return startUpstream(name, (req, res) => res.end(`${name}:${req.socket.remotePort}`))
}

test('SIGHUP reload: unchanged targets keep state, counters and connections; added and removed ones apply', async (t) => {
  let failB = true
  const a = await portReporter('a')
  const b = await startUpstream('b', (req, res) => { res.statusCode = failB ? 503 : 200; res.end('b') })
  const c = await portReporter('c')
  t.teardown(() => Promise.all([a.close(), b.close(), c.close()]))
  const settings = 'logger: { level: info }\nretry: false\npassive: { maxFails: 1 }\n'
  const r = await rig(t, `${settings}targets: [${a.url}, ${b.url}]\n`)

  const before = [await r.get('/'), await r.get('/'), await r.get('/')]
  const aPort = before.find((body) => body.startsWith('a:'))!
  t.ok(aPort, 'a answered')
  const bBefore = r.app.lolly.upstreams.default.targets.find((s) => s.url === b.url)!
  t.equal(bBefore.state, 'ejected', 'b failed and was ejected')
  const aRequests = r.app.lolly.upstreams.default.targets.find((s) => s.url === a.url)!.requests

  await r.write(`${settings}targets: [${a.url}, { url: ${b.url}, weight: 1 }, ${c.url}]\n`)
  t.equal(await r.reloader.reload(), 'applied')
  const after = r.app.lolly.upstreams.default.targets
  t.same(after.map((s) => s.url), [a.url, b.url, c.url])
  const bAfter = after.find((s) => s.url === b.url)!
  t.equal(bAfter.state, 'ejected', 'b is still ejected')
  t.equal(bAfter.since, bBefore.since, 'since the same moment')
  t.equal(after[0].requests, aRequests, 'a\'s counters survived')
  const bodies = [await r.get('/'), await r.get('/'), await r.get('/'), await r.get('/')]
  t.ok(bodies.includes(aPort), 'a is still reached over the same connection')
  t.ok(bodies.some((body) => body.startsWith('c:')), 'the added target takes traffic')
  t.ok(r.logs.some((line) => line.msg === `lolly: reload: added ${c.url} to upstream default`))
  t.ok(r.logs.some((line) => line.msg === `lolly: reloaded ${r.file}: 1 target change(s) applied`))

  failB = false
  await r.write(`${settings}targets: [${c.url}, { url: ${b.url}, weight: 3 }]\n`)
  t.equal(await r.reloader.reload(), 'applied')
  t.same(r.app.lolly.upstreams.default.targets.map((s) => `${s.url} ${s.weight}`), [`${b.url} 3`, `${c.url} 1`])
  const hitsOfA = a.hits.length
  for (let i = 0; i < 4; i++) await r.get('/')
  t.equal(a.hits.length, hitsOfA, 'the removed target gets nothing')

  await r.write(`${settings}targets: [${c.url}, { url: ${b.url}, weight: 3, down: true }]\n`)
  t.equal(await r.reloader.reload(), 'applied')
  t.equal(r.app.lolly.upstreams.default.targets.find((s) => s.url === b.url)!.state, 'disabled')

  t.equal(await r.reloader.reload(), 'unchanged', 'the same file again changes nothing')
  t.ok(r.logs.some((line) => line.msg === `lolly: reloaded ${r.file}: no target changed`))
})

test('a removal waits for the target\'s in-flight request, which completes', async (t) => {
  let release = (): void => {}
  let received = (): void => {}
  const arrived = new Promise<void>((resolve) => { received = resolve })
  const slow = await startUpstream('slow', (req, res) => {
    received()
    release = () => res.end('slow done')
  })
  const other = await startUpstream('other')
  t.teardown(() => Promise.all([slow.close(), other.close()]))
  const r = await rig(t, `logger: { level: silent }\nbalancer: first\ntargets: [${slow.url}, ${other.url}]\n`)
  const inflight = r.app.inject('/slow')
  await arrived
  await r.write(`logger: { level: silent }\nbalancer: first\ntargets: [${other.url}]\n`)
  let reloaded = false
  const reload = r.reloader.reload().then((outcome) => { reloaded = true; return outcome })
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.notOk(reloaded, 'the reload waits for the in-flight request')
  t.equal(r.app.lolly.upstreams.default.targets[0].state, 'draining')
  t.equal((await r.app.inject('/new')).body, 'other GET /new', 'new requests go elsewhere meanwhile')
  release()
  t.equal((await inflight).body, 'slow done', 'the in-flight request was not dropped')
  t.equal(await reload, 'applied')
  t.same(r.app.lolly.upstreams.default.targets.map((s) => s.url), [other.url])
})

test('a bad file or one that needs a restart is refused as a whole; the running config keeps serving', async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const r = await rig(t, `targets: [${a.url}]\n`)

  await r.write(`targets: [${a.url}, { url: ${b.url}, weight: 0 }]\n`)
  t.equal(await r.reloader.reload(), 'invalid')
  const invalid = r.logs.at(-1)!
  t.equal(invalid.level, 50)
  t.equal(invalid.msg, `lolly: reload refused, still serving the previous configuration: ${r.file}: targets[1].weight must be an integer from 1 to 1000000, got 0`)

  await r.write('targets: [http://127.0.0.1:1\n')
  t.equal(await r.reloader.reload(), 'invalid')
  t.match(r.logs.at(-1)!.msg, /is not valid YAML/)

  await r.write(`listen: { port: 1 }\nbalancer: random\ntargets: [${a.url}, ${b.url}]\n`)
  t.equal(await r.reloader.reload(), 'needs-restart')
  const restart = r.logs.at(-1)!
  t.equal(restart.msg, `lolly: reload of ${r.file} refused: listen, balancer changed, which needs a restart ` +
    '(only targets, logger.level, shutdownTimeout and the TLS certificate change live); still serving the previous configuration')
  t.same(restart.changed, ['listen', 'balancer'])

  t.same(r.app.lolly.upstreams.default.targets.map((s) => s.url), [a.url], 'b was not added by the refused reload')
  t.equal((await r.app.inject('/x')).body, 'a GET /x')
  t.equal(r.reloader.config.listen.port, 3000)
})

test('logger.level and shutdownTimeout change live; reloads queue behind each other', async (t) => {
  const a = await startUpstream('a')
  t.teardown(() => a.close())
  const r = await rig(t, `targets: [${a.url}]\n`)
  await r.write(`logger: { level: warn }\nshutdownTimeout: 10\ntargets: [${a.url}]\n`)
  const outcomes = await Promise.all([r.reloader.reload(), r.reloader.reload()])
  t.same(outcomes, ['unchanged', 'unchanged'])
  t.equal(r.app.log.level, 'warn')
  t.equal(r.reloader.config.shutdownTimeout, 10)
})

test('a change the app refuses is logged as partly applied and the old config stays current', async (t) => {
  const a = await startUpstream('a')
  const b = await startUpstream('b')
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const r = await rig(t, `targets: [${a.url}, ${b.url}]\n`)
  await r.app.lolly.removeTarget('default', b.url)
  await r.write(`targets: [${a.url}]\n`)
  t.equal(await r.reloader.reload(), 'failed')
  t.match(r.logs.at(-1)!.msg, new RegExp(`^lolly: reload of .* only partly applied: upstream "default" has no target ${b.url}; restart`))
  t.equal(r.reloader.config.normalized.upstreams.get('default')!.targets.length, 2)
})

test('SIGHUP reload with a dns entry: discovered targets keep their state; a changed entry is refused as needing a restart', async (t) => {
  const fleet = await startFleet(['127.0.0.2', '127.0.0.3'])
  const dns = await startDnsmasq({ a: { 'api.lolly.test': ['127.0.0.2', '127.0.0.3'] } })
  const plain = await startUpstream('plain')
  t.teardown(async () => { await fleet.close(); await dns.close(); await plain.close() })
  const head = `logger: { level: info }\nresolver: { servers: ['${dns.server}'], minInterval: 50, maxInterval: 200 }\n`
  const entry = `{ dns: 'http://api.lolly.test:${fleet.port}', family: 4 }`
  const r = await rig(t, `${head}targets: [${entry}]\n`)
  await r.app.ready()
  t.same(r.app.lolly.targets.map((s) => s.source), [`dns:http://api.lolly.test:${fleet.port}`, `dns:http://api.lolly.test:${fleet.port}`])
  r.app.lolly.disable('default', fleet.urlOf('127.0.0.3'))
  await r.get('/')
  const requests = r.app.lolly.targets.find((s) => s.url === fleet.urlOf('127.0.0.2'))!.requests

  await r.write(`${head}targets: [${entry}, ${plain.url}]\n`)
  t.equal(await r.reloader.reload(), 'applied')
  t.same(r.app.lolly.targets.map((s) => `${s.url} ${s.state}`), [`${fleet.urlOf('127.0.0.2')} healthy`, `${fleet.urlOf('127.0.0.3')} disabled`, `${plain.url} healthy`])
  t.equal(r.app.lolly.targets[0].requests, requests, 'the discovered target kept its counters')

  await r.write(`${head}targets: [{ dns: 'http://api.lolly.test:${fleet.port}', family: 4, weight: 2 }, ${plain.url}]\n`)
  t.equal(await r.reloader.reload(), 'needs-restart')
  t.ok(r.logs.some((line) => /upstreams\.default\.targets \(dns or srv entries changed\)/.test(line.msg)), 'the log names what needs a restart')
})
