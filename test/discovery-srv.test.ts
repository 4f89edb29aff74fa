import { test, type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import lolly from '../lib/index.js'
import { startDnsmasq, type DnsRecords, type DnsServer } from './helpers/dnsmasq.js'
import { startFleet, until, type Fleet } from './helpers/fleet.js'

// `srv` entries (RFC 2782) against dnsmasq: each record's host resolved, priorities as failover
// tiers, SRV weights as target weights.

const SERVICE = '_http._tcp.api.lolly.test'
const HOSTS = { 'a.lolly.test': ['127.0.0.2'], 'b.lolly.test': ['127.0.0.3'], 'c.lolly.test': ['127.0.0.4'] }

async function srvRig (t: Test, records: (port: number) => DnsRecords, entry: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, dns: DnsServer, fleet: Fleet }> {
  const fleet = await startFleet(['127.0.0.2', '127.0.0.3', '127.0.0.4'])
  const dns = await startDnsmasq(records(fleet.port))
  const app = Fastify()
  await app.register(lolly, {
    targets: [{ srv: SERVICE, family: 4, hold: 0, ...entry }],
    resolver: { servers: [dns.server], timeout: 200, tries: 1, minInterval: 50, maxInterval: 200 },
    retry: false
  })
  app.all('/*', (_req, reply) => reply.from())
  t.teardown(async () => { await app.close(); await fleet.close(); await dns.close() })
  await app.ready()
  return { app, dns, fleet }
}

async function tally (app: FastifyInstance, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const res = await app.inject('/')
    const who = res.statusCode === 200 ? res.body.split(' ')[0] : String(res.statusCode)
    counts[who] = (counts[who] ?? 0) + 1
  }
  return counts
}

test('the lowest priority is the first tier, SRV weights share it; the next priority takes over when the first cannot', async (t) => {
  const { app, fleet } = await srvRig(t, (port) => ({
    a: HOSTS,
    srv: [
      { name: SERVICE, target: 'a.lolly.test', port, priority: 10, weight: 3 },
      { name: SERVICE, target: 'b.lolly.test', port, priority: 10, weight: 1 },
      { name: SERVICE, target: 'c.lolly.test', port, priority: 20, weight: 5 }
    ]
  }))
  const snapshot = (address: string) => app.lolly.targets.find((s) => s.url === fleet.urlOf(address))!
  t.match(snapshot('127.0.0.2'), { tier: 0, backup: false, weight: 30, source: `srv:${SERVICE}` })
  t.match(snapshot('127.0.0.3'), { tier: 0, weight: 10 })
  t.match(snapshot('127.0.0.4'), { tier: 1, backup: true, weight: 50 })
  t.same(await tally(app, 40), { '127.0.0.2': 30, '127.0.0.3': 10 }, 'weights 3:1; the second priority gets nothing')
  t.ok(fleet.hits.some((hit) => hit.address === '127.0.0.2' && hit.host === `a.lolly.test:${fleet.port}`), 'Host is the record\'s target name')

  app.lolly.disable('default', fleet.urlOf('127.0.0.2'))
  app.lolly.disable('default', fleet.urlOf('127.0.0.3'))
  t.same(await tally(app, 4), { '127.0.0.4': 4 }, 'the next tier when the first has none')
})

test('weight 0 gets a very small share beside weighted records, an equal one when all are 0; three priorities make three tiers', async (t) => {
  const { app, dns, fleet } = await srvRig(t, (port) => ({
    a: HOSTS,
    srv: [
      { name: SERVICE, target: 'a.lolly.test', port, priority: 1, weight: 0 },
      { name: SERVICE, target: 'b.lolly.test', port, priority: 1, weight: 2 }
    ]
  }), { weight: 2 })
  t.same(app.lolly.targets.map((s) => [s.url, s.weight]).sort(), [[fleet.urlOf('127.0.0.2'), 2], [fleet.urlOf('127.0.0.3'), 40]], 'the entry\'s weight multiplies')

  await dns.setRecords({
    a: HOSTS,
    srv: [
      { name: SERVICE, target: 'a.lolly.test', port: fleet.port, priority: 5, weight: 0 },
      { name: SERVICE, target: 'b.lolly.test', port: fleet.port, priority: 7, weight: 0 },
      { name: SERVICE, target: 'c.lolly.test', port: fleet.port, priority: 9, weight: 0 }
    ]
  })
  // b and c change tier: each is replaced once idle (hold 0), then comes back in its tier.
  await until(() => app.lolly.targets.map((s) => `${s.url} ${s.tier} ${s.state}`).sort().join() ===
    [`${fleet.urlOf('127.0.0.2')} 0 healthy`, `${fleet.urlOf('127.0.0.3')} 1 healthy`, `${fleet.urlOf('127.0.0.4')} 2 healthy`].join(), 3000, 'three tiers')
  t.same(await tally(app, 3), { '127.0.0.2': 3 })
  app.lolly.disable('default', fleet.urlOf('127.0.0.2'))
  t.same(await tally(app, 3), { '127.0.0.3': 3 })
  app.lolly.disable('default', fleet.urlOf('127.0.0.3'))
  t.same(await tally(app, 3), { '127.0.0.4': 3 }, 'the third tier last')
})

test('a record whose host has no address adds nothing; "." (no service) and a name with no SRV records are empty answers', async (t) => {
  const { app, dns, fleet } = await srvRig(t, (port) => ({
    a: { 'a.lolly.test': ['127.0.0.2'] },
    srv: [
      { name: SERVICE, target: 'a.lolly.test', port, priority: 1, weight: 1 },
      { name: SERVICE, target: 'gone.lolly.test', port, priority: 1, weight: 1 }
    ]
  }))
  t.same(app.lolly.targets.map((s) => s.url), [fleet.urlOf('127.0.0.2')])
  t.match(app.lolly.sources, [{ type: 'srv', targets: 1, lookups: { ok: 1 } }])
  await dns.setRecords({ a: HOSTS, srv: [{ name: SERVICE, target: '.', port: 0 }] })
  await until(() => app.lolly.sources[0].lookups.empty > 0, 3000, 'an empty answer')
  t.same(app.lolly.targets.map((s) => s.state), ['healthy'], 'within emptyGrace the last set stays')
  await dns.setRecords({ a: HOSTS, srv: [] })
  await until(() => app.lolly.sources[0].lookups.empty > 3, 3000, 'empty answers')
})
