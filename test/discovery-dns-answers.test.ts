import { test } from 'tap'
import { lookUp } from '../lib/discovery/dns-answers.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import type { NormalizedDnsSource, NormalizedSrvSource } from '../lib/options/types.js'
import { startDnsmasq } from './helpers/dnsmasq.js'

// What one lookup of a `dns` or `srv` entry makes: target URLs as every target URL is written, the
// name a target answers to, tiers; and a failed SRV lookup fails the whole lookup.

function sourceOf (entry: Record<string, unknown>): NormalizedDnsSource | NormalizedSrvSource {
  return readPluginOptions({ targets: [entry] }).upstreams.get('default')!.sources[0] as NormalizedDnsSource | NormalizedSrvSource
}

test('https names: the default port left out of URL and Host, another kept; backup entries start at tier 1', async (t) => {
  const dns = await startDnsmasq({
    a: { 'secure.lolly.test': ['127.0.0.2'], 'a.lolly.test': ['127.0.0.3'], 'b.lolly.test': ['127.0.0.4'] },
    aaaa: { 'secure.lolly.test': ['::1'] },
    srv: [
      { name: '_https._tcp.api.lolly.test', target: 'a.lolly.test', port: 443, priority: 1, weight: 0 },
      { name: '_https._tcp.api.lolly.test', target: 'b.lolly.test', port: 8443, priority: 2, weight: 7 }
    ],
    servfail: ['broken.lolly.test']
  }, { ttl: 30 })
  t.teardown(() => dns.close())
  const resolver = dns.resolver()

  const plain = await lookUp(resolver, sourceOf({ dns: 'https://secure.lolly.test/api', backup: true, maxConnections: 3 }))
  t.equal(plain.ttl, 30)
  t.same(plain.targets.map((target) => [target.url, target.virtualHost, target.tier, target.backup, target.maxConnections]), [
    ['https://127.0.0.2/api', 'secure.lolly.test', 1, true, 3],
    ['https://[::1]/api', 'secure.lolly.test', 1, true, 3]
  ])
  const ported = await lookUp(resolver, sourceOf({ dns: 'https://secure.lolly.test:8443', family: 4 }))
  t.same(ported.targets.map((target) => [target.url, target.origin, target.virtualHost, target.tier]), [['https://127.0.0.2:8443', 'https://127.0.0.2:8443', 'secure.lolly.test:8443', 0]])
  t.same(ported.targets.map((target) => target.name), ['secure.lolly.test:8443'], 'a DNS target is named by the name it was found by')

  const service = await lookUp(resolver, sourceOf({ srv: '_https._tcp.api.lolly.test', protocol: 'https', backup: true, family: 4 }))
  t.same(service.targets.map((target) => [target.url, target.virtualHost, target.tier, target.weight]).sort(), [
    ['https://127.0.0.3', 'a.lolly.test', 1, 1],
    ['https://127.0.0.4:8443', 'b.lolly.test:8443', 2, 70]
  ])

  await t.rejects(lookUp(resolver, sourceOf({ srv: '_http._tcp.broken.lolly.test' })), { code: 'ESERVFAIL' }, 'a failed SRV query fails the lookup')
  await t.rejects(lookUp(resolver, sourceOf({ dns: 'http://broken.lolly.test' })), { code: 'ESERVFAIL' }, 'so does a failed address query')
})
