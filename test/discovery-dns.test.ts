import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import lolly from '../lib/index.js'
import type { LollyOptions } from '../lib/options/types.js'
import { startDnsmasq, type DnsServer } from './helpers/dnsmasq.js'
import { startFleet, until, type Fleet } from './helpers/fleet.js'
import { capturedLogs } from './helpers/health-rig.js'

// `dns` entries against a real DNS server (dnsmasq on a loopback port) and real upstreams on
// several loopback addresses: the pool follows the name's A records as they change.

const NAME = 'api.lolly.test'

interface DnsRig {
  app: FastifyInstance
  dns: DnsServer
  fleet: Fleet
  logs: Array<{ level: number, msg: string, [key: string]: unknown }>
  urls (): string[]
  /** The first word of each of `n` answers (the address that answered, or the status). */
  hit (n: number): Promise<string[]>
}

async function dnsRig (t: Test, addresses: string[], records: string[], entry: Record<string, unknown> = {}, resolver: Record<string, unknown> = {}, ttl = 0): Promise<DnsRig> {
  const fleet = await startFleet(addresses)
  const dns = await startDnsmasq({ a: { [NAME]: records } }, { ttl })
  const { stream, logs } = capturedLogs()
  const app = Fastify({ logger: { level: 'info', stream } })
  const options: LollyOptions = {
    targets: [{ dns: `http://${NAME}:${fleet.port}`, hold: 0, family: 4, ...entry }],
    resolver: { servers: [dns.server], timeout: 200, tries: 1, minInterval: 50, maxInterval: 200, ...resolver }
  }
  await app.register(lolly, options)
  app.all('/*', (_req, reply) => reply.from())
  t.teardown(async () => { await app.close(); await fleet.close(); await dns.close() })
  await app.ready()
  return {
    app,
    dns,
    fleet,
    logs,
    urls: () => app.lolly.targets.map((target) => target.url).sort(),
    async hit (n) {
      const seen: string[] = []
      for (let i = 0; i < n; i++) {
        const res = await app.inject('/')
        seen.push(res.statusCode === 200 ? res.body.split(' ')[0] : String(res.statusCode))
      }
      return seen
    }
  }
}

test('targets follow the name\'s A records; requests carry the name as Host', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2', '127.0.0.3', '127.0.0.4'], ['127.0.0.2', '127.0.0.3'])
  const { fleet } = r
  t.same(r.urls(), [fleet.urlOf('127.0.0.2'), fleet.urlOf('127.0.0.3')], 'ready() waited for the first answer')
  t.match(r.app.lolly.targets[0], { source: `dns:http://${NAME}:${fleet.port}`, state: 'healthy' })
  t.same(new Set(await r.hit(4)), new Set(['127.0.0.2', '127.0.0.3']))
  t.ok(fleet.hits.every((hit) => hit.host === `${NAME}:${fleet.port}`), 'Host is the name, not the address')

  const changedAt = Date.now()
  await r.dns.setRecords({ a: { [NAME]: ['127.0.0.3', '127.0.0.4'] } })
  await until(() => r.urls().join() === [fleet.urlOf('127.0.0.3'), fleet.urlOf('127.0.0.4')].join(), 3000, 'the new set')
  t.ok(Date.now() - changedAt < 1000, `followed ${Date.now() - changedAt} ms after the change (minInterval 50 ms)`)
  t.same(new Set(await r.hit(4)), new Set(['127.0.0.3', '127.0.0.4']))
  t.match(r.app.lolly.sources, [{ type: 'dns', targets: 2, ttl: 0, lastError: null }])
  t.ok(r.logs.some((l) => l.msg === `lolly: ${fleet.urlOf('127.0.0.4')} was added to upstream default by dns:http://${NAME}:${fleet.port}`))
  t.ok(r.logs.some((l) => l.msg === `lolly: ${fleet.urlOf('127.0.0.2')} was removed from upstream default by dns:http://${NAME}:${fleet.port}`))
})

test('family both: A and AAAA addresses are targets, IPv6 in brackets; family 6 asks for AAAA only', async (t) => {
  const fleet = await startFleet(['127.0.0.2', '::1'])
  const dns = await startDnsmasq({ a: { [NAME]: ['127.0.0.2'] }, aaaa: { [NAME]: ['::1'] } })
  t.teardown(async () => { await fleet.close(); await dns.close() })
  const urls: string[][] = []
  for (const family of ['both', 6] as const) {
    const app = Fastify()
    await app.register(lolly, { targets: [{ dns: `http://${NAME}:${fleet.port}`, family }], resolver: { servers: [dns.server], timeout: 200, tries: 1 } })
    app.all('/*', (_req, reply) => reply.from())
    await app.ready()
    urls.push(app.lolly.targets.map((target) => target.url))
    const answers = new Set<string>()
    for (let i = 0; i < 4; i++) answers.add((await app.inject('/')).body.split(' ')[0])
    t.same([...answers].sort(), family === 6 ? ['::1'] : ['127.0.0.2', '::1'], `family ${family}: both addresses answer`)
    await app.close()
  }
  t.same(urls, [[`http://127.0.0.2:${fleet.port}`, `http://[::1]:${fleet.port}`], [`http://[::1]:${fleet.port}`]])
})

test('targets that stay keep their state and counters through changes', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2', '127.0.0.3', '127.0.0.4'], ['127.0.0.2', '127.0.0.3'])
  const { fleet } = r
  await r.hit(4)
  r.app.lolly.disable('default', fleet.urlOf('127.0.0.3'))
  const requests = r.app.lolly.targets.find((s) => s.url === fleet.urlOf('127.0.0.2'))!.requests
  await r.dns.setRecords({ a: { [NAME]: ['127.0.0.2', '127.0.0.3', '127.0.0.4'] } })
  await until(() => r.urls().length === 3, 3000, 'the third target')
  t.match(r.app.lolly.targets.find((s) => s.url === fleet.urlOf('127.0.0.3')), { state: 'disabled' })
  t.match(r.app.lolly.targets.find((s) => s.url === fleet.urlOf('127.0.0.2')), { state: 'healthy', requests })
  t.same(new Set(await r.hit(4)), new Set(['127.0.0.2', '127.0.0.4']))
})

test('the DNS server stopped: the last set keeps serving without a client error, said once; restarted, it is followed again', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2', '127.0.0.3'], ['127.0.0.2'])
  await r.dns.stop()
  const answers: string[] = []
  const started = Date.now()
  while (Date.now() - started < 800) answers.push(...await r.hit(5))
  t.same(new Set(answers), new Set(['127.0.0.2']), `${answers.length} requests, all answered by the last set`)
  const failed = r.logs.filter((l) => /^lolly: lookup of dns:/.test(l.msg))
  t.equal(failed.length, 1, 'one line for the whole outage')
  t.match(failed[0], { level: 40, msg: /failed \(.+\); keeping its 1 targets and retrying with backoff$/ })
  t.match(r.app.lolly.sources[0], { targets: 1, lastError: { message: /ECONNREFUSED|ETIMEOUT|ECONNRESET/ } })
  t.ok(r.app.lolly.sources[0].lookups.failed >= 2, 'retried')

  await r.dns.setRecords({ a: { [NAME]: ['127.0.0.2', '127.0.0.3'] } })
  await r.dns.start()
  await until(() => r.urls().length === 2, 3000, 'the set after the restart')
  t.ok(r.logs.some((l) => l.level === 30 && /^lolly: dns:.* answers again after \d+ failed lookups?$/.test(l.msg)))
  t.same(new Set(await r.hit(4)), new Set(['127.0.0.2', '127.0.0.3']))
})

test('SERVFAIL, REFUSED and timeouts are failures: the last set stays, one line per streak, backoff up to maxInterval', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2'], ['127.0.0.2'], {}, { minInterval: 50, maxInterval: 400 })
  for (const fault of ['servfail', 'refused', 'timeout'] as const) {
    const failedBefore = r.app.lolly.sources[0].lookups.failed
    await r.dns.setRecords({ [fault]: [NAME] })
    await until(() => r.app.lolly.sources[0].lookups.failed >= failedBefore + 3, 5000, `${fault}: three failed lookups`)
    t.same(await r.hit(2), ['127.0.0.2', '127.0.0.2'], `${fault}: the last set serves`)
    const source = r.app.lolly.sources[0]
    t.match(source.lastError, { message: { servfail: /ESERVFAIL/, refused: /EREFUSED/, timeout: /ETIMEOUT/ }[fault] })
    t.ok(source.nextLookupAt! - source.lastError!.at <= 400, `${fault}: backoff bounded by maxInterval`)
    await r.dns.setRecords({ a: { [NAME]: ['127.0.0.2'] } })
    await until(() => r.app.lolly.sources[0].lookups.ok > 0 && r.app.lolly.sources[0].lastAnswerAt! > source.lastError!.at, 3000, `${fault}: recovered`)
  }
  const warnings = r.logs.filter((l) => l.level === 40 && /^lolly: lookup of/.test(l.msg))
  t.equal(warnings.length, 3, 'one warning per streak')
  t.equal(r.logs.filter((l) => l.level === 30 && /answers again after/.test(l.msg)).length, 3, 'and one line when it recovers')
})

test('an empty answer (NXDOMAIN) is believed once it lasted emptyGrace; until then the last set serves', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2'], ['127.0.0.2'], {}, { emptyGrace: 400 })
  await r.dns.setRecords({ a: {} })
  await until(() => r.app.lolly.sources[0].lookups.empty > 0, 3000, 'an empty answer')
  t.same(await r.hit(2), ['127.0.0.2', '127.0.0.2'], 'still served during the grace')
  t.match(r.logs.find((l) => /answered empty/.test(l.msg)), { level: 40, msg: /its 1 targets keep serving for up to 400 ms unless it answers again$/ })
  await until(() => r.urls().length === 0, 3000, 'the targets gone after the grace')
  t.ok(r.logs.some((l) => /has answered empty for \d+ ms: its 1 targets leave$/.test(l.msg)))
  t.same(await r.hit(1), ['503'])
  await r.dns.setRecords({ a: { [NAME]: ['127.0.0.2'] } })
  await until(() => r.urls().length === 1, 3000, 'back')
  t.ok(r.logs.some((l) => /has records again$/.test(l.msg)))
})

test('a name that does not resolve at start: the app starts, the pool answers 503 until the name has records', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2'], [])
  t.same(r.urls(), [])
  t.ok(r.logs.some((l) => l.level === 40 && l.msg === `lolly: upstream default has no target yet: it answers 503 until dns:http://${NAME}:${r.fleet.port} lists one`))
  const res = await r.app.inject('/')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'FST_LOLLY_NO_AVAILABLE_TARGET' })
  await r.dns.setRecords({ a: { [NAME]: ['127.0.0.2'] } })
  await until(() => r.urls().length === 1, 3000, 'the first target')
  t.same(await r.hit(1), ['127.0.0.2'])
})

test('the lookup interval follows the TTL within minInterval and maxInterval', async (t) => {
  const zero = await dnsRig(t, ['127.0.0.2'], ['127.0.0.2'], {}, { minInterval: 300, maxInterval: 5000 }, 0)
  const source = zero.app.lolly.sources[0]
  // The timer starts once the answer is applied, a few ms after it came on a loaded machine (CI saw 303).
  const wait = source.nextLookupAt! - source.lastAnswerAt!
  t.ok(wait >= 300 && wait <= 350, `TTL 0: the next lookup after minInterval (${wait} ms)`)

  const huge = await dnsRig(t, ['127.0.0.3'], ['127.0.0.3'], {}, { minInterval: 300, maxInterval: 5000 }, 86_400)
  const long = huge.app.lolly.sources[0]
  const longWait = long.nextLookupAt! - long.lastAnswerAt!
  t.equal(long.ttl, 86_400)
  t.ok(longWait >= 4500 && longWait <= 5050, `TTL a day: maxInterval less up to 10 % jitter (${longWait} ms)`)

  const mid = await dnsRig(t, ['127.0.0.4'], ['127.0.0.4'], {}, { minInterval: 300, maxInterval: 5000 }, 2)
  const middle = mid.app.lolly.sources[0]
  const midWait = middle.nextLookupAt! - middle.lastAnswerAt!
  t.ok(midWait >= 1800 && midWait <= 2050, `TTL 2 s: the TTL less up to 10 % jitter (${midWait} ms)`)
})

test('a pool closed under its dns source stops the lookups, without an error', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2', '127.0.0.3'], ['127.0.0.2'])
  await r.dns.setRecords({ a: { [NAME]: ['127.0.0.2', '127.0.0.3'] } })
  await r.app.lolly.upstreams.default.dispatcher.close()
  const lookups = r.app.lolly.sources[0].lookups.ok
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.ok(r.app.lolly.sources[0].lookups.ok <= lookups + 1, 'at most the lookup in flight finished')
  t.same(r.urls(), [r.fleet.urlOf('127.0.0.2')], 'its answer changed nothing')
})

test('a single failed lookup, then answers: said in the singular', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2'], ['127.0.0.2'], {}, { minInterval: 500, maxInterval: 2000 })
  await r.dns.stop()
  await until(() => r.app.lolly.sources[0].lookups.failed === 1, 3000, 'one failed lookup')
  await r.dns.start()
  await until(() => r.logs.some((l) => /answers again after 1 failed lookup$/.test(l.msg)), 3000, 'the line of the recovery')
  t.equal(r.app.lolly.sources[0].lookups.failed, 1)
})

test('an app closed while a lookup waits for its answer closes at once, the lookup cancelled', async (t) => {
  const r = await dnsRig(t, ['127.0.0.2'], ['127.0.0.2'], {}, { timeout: 5000, tries: 1, minInterval: 50, maxInterval: 50 })
  await r.dns.setRecords({ timeout: [NAME] })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const counted = r.app.lolly.sources[0].lookups
  const started = Date.now()
  await r.app.close()
  t.ok(Date.now() - started < 1000, `closed in ${Date.now() - started} ms, not after the 5 s timeout`)
  t.same(r.app.lolly.sources[0].lookups, counted, 'the cancelled lookup counts as nothing')
  t.equal(r.app.lolly.sources[0].nextLookupAt, null)
})
