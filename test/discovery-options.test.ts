import { test } from 'tap'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import type { NormalizedUpstream } from '../lib/options/types.js'

// The `dns`, `srv` and `discover` entries of a targets list, and `resolver`: validated at register
// into their normalised forms, with the exact path and value of anything wrong.

function upstream (options: Record<string, unknown>, name = 'default'): NormalizedUpstream {
  return readPluginOptions(options).upstreams.get(name)!
}

async function * nothing (): AsyncIterable<string[]> {}

test('dns, srv and discover entries, mixed with static targets, with their defaults', async (t) => {
  const pool = upstream({
    targets: [
      'http://10.0.0.1:8080',
      { dns: 'http://api.internal:8080/v1/', weight: 2 },
      { dns: 'https://secure.internal', family: 6, backup: true, maxConnections: 10, hold: 0, maxTargets: 5 },
      { srv: '_http._tcp.api.service.consul', family: 4 },
      { srv: '_https._tcp.api.default.svc.cluster.local.', protocol: 'https', basePath: '/api/', family: 'both' },
      { discover: nothing },
      { discover: nothing, name: 'consul' },
      { discover: nothing }
    ]
  })
  t.same(pool.targets.map((target) => target.url), ['http://10.0.0.1:8080'])
  t.match(pool.targets[0], { tier: 0, virtualHost: null, source: null })
  t.same(pool.sources.map((source) => source.name), [
    'dns:http://api.internal:8080/v1', 'dns:https://secure.internal', 'srv:_http._tcp.api.service.consul',
    'srv:_https._tcp.api.default.svc.cluster.local.', 'discover', 'consul', 'discover#2'
  ])
  t.match(pool.sources[0], { type: 'dns', hostname: 'api.internal', protocol: 'http:', port: 8080, basePath: '/v1', family: 0, template: { weight: 2, backup: false, maxConnections: 0 }, maxTargets: 1000, hold: 10_000 })
  t.match(pool.sources[1], { type: 'dns', protocol: 'https:', port: 443, basePath: '', family: 6, template: { weight: 1, backup: true, maxConnections: 10 }, maxTargets: 5, hold: 0 })
  t.match(pool.sources[2], { type: 'srv', service: '_http._tcp.api.service.consul', protocol: 'http:', basePath: '', family: 4 })
  t.match(pool.sources[3], { type: 'srv', protocol: 'https:', basePath: '/api', family: 0 })
  t.match(pool.sources[4], { type: 'discover', discover: nothing, maxTargets: 1000, hold: 10_000 })
  t.same(pool.resolver, { servers: null, timeout: 2000, tries: 2, minInterval: 1000, maxInterval: 30_000, emptyGrace: 30_000 })
})

test('resolver: per upstream over the top level\'s', async (t) => {
  const options = readPluginOptions({
    resolver: { servers: ['127.0.0.1:5353', '10.0.0.2', '[::1]:53', 'fd00::2'], minInterval: 500 },
    upstreams: {
      a: { targets: [{ dns: 'http://a.internal' }] },
      b: { targets: [{ dns: 'http://b.internal' }], resolver: { timeout: 100, tries: 1, maxInterval: 5000, emptyGrace: 0 } }
    }
  })
  t.same(options.upstreams.get('a')!.resolver, { servers: ['127.0.0.1:5353', '10.0.0.2', '[::1]:53', 'fd00::2'], timeout: 2000, tries: 2, minInterval: 500, maxInterval: 30_000, emptyGrace: 30_000 })
  t.same(options.upstreams.get('b')!.resolver, { servers: ['127.0.0.1:5353', '10.0.0.2', '[::1]:53', 'fd00::2'], timeout: 100, tries: 1, minInterval: 500, maxInterval: 5000, emptyGrace: 0 })
})

test('bad entries fail naming their path and value', async (t) => {
  const cases: Array<[unknown[], string | RegExp, Record<string, unknown>?]> = [
    [[{ dns: 'ftp://a.internal' }], "targets[0].dns must be an http: or https: URL, got 'ftp://a.internal'"],
    [[{ dns: 42 }], 'targets[0].dns must be a URL string, got 42'],
    [[{ dns: 'http://10.0.0.1:80' }], "targets[0].dns must be a URL with a host name (an address is a plain target), got 'http://10.0.0.1:80'"],
    [[{ dns: 'http://[::1]:80' }], /^targets\[0\]\.dns must be a URL with a host name/],
    [[{ dns: 'http://a.internal', url: 'http://b' }], /^targets\[0\]\.url is not a known option \(known: dns, weight, backup, maxConnections, family, maxTargets, hold\)/],
    [[{ dns: 'http://a.internal', family: 5 }], "targets[0].family must be 4, 6 or 'both', got 5"],
    [[{ dns: 'http://a.internal', weight: 0 }], 'targets[0].weight must be an integer from 1 to 1000000, got 0'],
    [[{ dns: 'http://a.internal', hold: -1 }], 'targets[0].hold must be an integer >= 0, got -1'],
    [[{ dns: 'http://a.internal', maxTargets: 0 }], 'targets[0].maxTargets must be an integer from 1 to 100000, got 0'],
    [[{ srv: 'api.service.consul' }], "targets[0].srv must be an SRV name like _http._tcp.api.service.consul, got 'api.service.consul'"],
    [[{ srv: 7 }], /^targets\[0\]\.srv must be an SRV name/],
    [[{ srv: '_http._tcp.a', protocol: 'h2' }], "targets[0].protocol must be one of 'http', 'https', got 'h2'"],
    [[{ srv: '_http._tcp.a', basePath: 'api' }], "targets[0].basePath must be a path starting with /, got 'api'"],
    [[{ srv: '_http._tcp.a', basePath: '/a?b' }], "targets[0].basePath must be a path starting with /, got '/a?b'"],
    [[{ srv: '_http._tcp.a', dns: 'http://a.internal' }], /^targets\[0\]\.srv is not a known option/],
    [[{ discover: 'consul' }], "targets[0].discover must be a function ({ signal }) => AsyncIterable of target lists, got 'consul'"],
    [[{ discover: nothing, weight: 2 }], /^targets\[0\]\.weight is not a known option \(known: discover, name, maxTargets, hold\)/],
    [[{ discover: nothing, name: '' }], "targets[0].name must be a non-empty string, got ''"],
    [[{ dns: 'http://a.internal' }, { dns: 'http://a.internal:80/' }], "targets[1] must be a source named once within its upstream, got 'dns:http://a.internal'"],
    [[{ discover: nothing, name: 'x' }, { discover: nothing, name: 'x' }], "targets[1] must be a source named once within its upstream, got 'x'"],
    [[{ dns: 'http://a.internal' }], /^resolver\.servers\[0\] must be an IP address with an optional port/, { servers: ['dns.google'] }],
    [[{ dns: 'http://a.internal' }], /^resolver\.servers\[1\] must be an IP address/, { servers: ['10.0.0.1', '10.0.0.1:0'] }],
    [[{ dns: 'http://a.internal' }], /^resolver\.servers\[0\] must be an IP address/, { servers: ['10.0.0.1:99999'] }],
    [[{ dns: 'http://a.internal' }], /^resolver\.servers\[0\] must be an IP address/, { servers: ['[10.0.0.1]:53'] }],
    [[{ dns: 'http://a.internal' }], /^resolver\.servers\[0\] must be an IP address/, { servers: [53] }],
    [[{ dns: 'http://a.internal' }], 'resolver.servers must be a non-empty array of DNS server addresses, got []', { servers: [] }],
    [[{ dns: 'http://a.internal' }], 'resolver must be an object, got true', true as never],
    [[{ dns: 'http://a.internal' }], /^resolver\.retries is not a known option \(known: servers, timeout, tries, minInterval, maxInterval, emptyGrace\)/, { retries: 1 }],
    [[{ dns: 'http://a.internal' }], 'resolver.tries must be an integer from 1 to 10, got 0', { tries: 0 }],
    [[{ dns: 'http://a.internal' }], 'resolver.maxInterval must be at least minInterval (5000), got 1000', { minInterval: 5000, maxInterval: 1000 }]
  ]
  for (const [targets, message, resolver] of cases) {
    const options = resolver === undefined ? { targets } : { targets, resolver }
    t.throws(() => readPluginOptions(options), { code: 'FST_LOLLY_INVALID_OPTION', message }, JSON.stringify(targets))
  }
})
