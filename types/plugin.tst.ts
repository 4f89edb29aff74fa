import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import lolly, { lolly as named, errors, type LollyOptions, type TargetSnapshot, type StateChange, type TryRecord } from 'fastify-lolly'

test('the plugin registers with typed options, from the default and the named export', () => {
  const app = Fastify()
  expect(app.register(lolly, { targets: ['http://127.0.0.1:1', { url: 'http://127.0.0.1:2', weight: 3, backup: true }] })).type.not.toRaiseError()
  expect(app.register(named, { upstreams: { api: { targets: ['http://a:1'], balancer: 'least-connections' } }, defaultUpstream: 'api' })).type.not.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], balancer: 'fastest' })).type.toRaiseError()
  expect(app.register(lolly, { targets: [{ url: 'http://a:1', weight: '3' }] })).type.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], hashKey: 'query:x' })).type.toRaiseError()
  expect<LollyOptions>().type.toBeAssignableFrom({ targets: ['http://a:1'], hashKey: 'header:x-user' as const })
  expect<LollyOptions>().type.toBeAssignableFrom({ targets: ['http://a:1'], hashKey: (request: { ip: string }) => request.ip })
})

test('app.lolly is typed through declaration merging', () => {
  const app = Fastify()
  expect(app.lolly.targets).type.toBe<TargetSnapshot[]>()
  expect(app.lolly.upstreams.api.targets[0].state).type.toBe<'healthy' | 'unhealthy' | 'ejected' | 'draining' | 'disabled'>()
  expect(app.lolly.upstreams.api.targets[0].inflight).type.toBe<number>()
  app.lolly.on('state', (change) => {
    expect(change).type.toBe<StateChange>()
  })
  app.lolly.on('panic', (change) => {
    expect(change.panicking).type.toBe<boolean>()
  })
  expect(app.lolly.upstreams.api.panicking).type.toBe<boolean>()
})

test('a pool\'s dispatcher is an undici Dispatcher that shows nothing of the pool', () => {
  const app = Fastify()
  const dispatcher = app.lolly.upstreams.api.dispatcher
  expect(dispatcher).type.toBeAssignableTo<import('undici').Dispatcher>()
  expect(dispatcher).type.not.toHaveProperty('targets')
  expect(dispatcher).type.not.toHaveProperty('setWeight')
  expect(dispatcher).type.not.toHaveProperty('addTarget')
})

test('route config.upstream is typed through FastifyContextConfig', () => {
  const app = Fastify()
  expect(app.get('/a', { config: { upstream: 'auth' } }, (_req, reply) => reply.from())).type.not.toRaiseError()
  expect(app.get('/b', { config: { upstream: { name: 'api', balancer: 'ip-hash' } } }, (_req, reply) => reply.from())).type.not.toRaiseError()
  expect(app.get('/c', { config: { upstream: { name: 'api', balancer: 'nope' } } }, (_req, reply) => reply.from())).type.toRaiseError()
  expect(app.get('/e', {
    config: { upstream: { name: 'api', balancer: 'consistent-hash', hashBalanceFactor: 2, retry: { attempts: 1 }, responseTimeout: 500, bodyTimeout: 500, clientBodyTimeout: 0 } }
  }, (_req, reply) => reply.from())).type.not.toRaiseError()
  app.get('/d', async (request, reply) => {
    await reply.from()
    expect(request.lolly?.tries).type.toBe<readonly TryRecord[] | undefined>()
    expect(request.lolly).type.toBe<lolly.LollyRequestInfo | null>()
  })
})

test('errors carry FST_LOLLY_ codes', () => {
  expect(new errors.InvalidOptionError('x').code).type.toBe<string>()
})

test('health, passive, retry, status and metrics options are typed', () => {
  const app = Fastify()
  const options: LollyOptions = {
    targets: ['http://a:1'],
    healthCheck: { path: '/healthz', interval: 5000, timeout: 1000, expect: { status: [200, '300-399'], body: /ok/ }, healthyThreshold: 2 },
    passive: { maxFails: 3, failWindow: 10_000, ejectTime: 30_000 },
    retry: { attempts: 2, on: ['connect-error', 'status', 'target-down'], statuses: [503] },
    slowStart: 30_000,
    panicPercent: 50,
    status: { path: '/lolly' },
    metrics: true
  }
  expect(app.register(lolly, options)).type.not.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], retry: { on: ['always'] } })).type.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], healthCheck: { interval: '5s' } })).type.toRaiseError()
  expect<lolly.HealthCheckOptions>().type.toBeAssignableFrom({ path: '/health' })
  expect<lolly.RetryOptions>().type.toBeAssignableFrom({ attempts: 1 })
})

test('the tracing option is typed: a boolean or { probes }', () => {
  const app = Fastify()
  expect(app.register(lolly, { targets: ['http://a:1'], tracing: false })).type.not.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], tracing: { probes: true } })).type.not.toRaiseError()
  expect<lolly.TracingOptions>().type.toBeAssignableFrom({})
  expect(app.register(lolly, { targets: ['http://a:1'], tracing: { probes: 'yes' } })).type.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], tracing: { spans: true } })).type.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], tracing: 'on' })).type.toRaiseError()
})

test('runtime management is typed on app.lolly', () => {
  const app = Fastify()
  expect(app.lolly.drain('default', 'http://a:1')).type.toBe<Promise<void>>()
  expect(app.lolly.removeTarget('default', 'http://a:1')).type.toBe<Promise<void>>()
  expect(app.lolly.setWeight('default', 'http://a:1', 3)).type.not.toRaiseError()
  expect(app.lolly.addTarget('default', { url: 'http://b:1', weight: 2 })).type.not.toRaiseError()
  expect(app.lolly.setWeight('default', 'http://a:1', '3')).type.toRaiseError()
  expect(app.lolly.targets[0].lastCheck).type.toBe<lolly.CheckResult | null>()
})

test('reply-from\'s plugin options that fastify-lolly takes are typed; the others are not options', () => {
  const app = Fastify()
  expect(app.register(lolly, {
    targets: ['http://a:1'], contentTypesToEncode: ['application/x-www-form-urlencoded'], disableRequestLogging: false, cacheURLs: 50, disableCache: false
  })).type.not.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], contentTypesToEncode: 'text/plain' })).type.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], base: 'http://a:1' })).type.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], http2: true })).type.toRaiseError()
})

test('discovery entries, the resolver and the sources are typed', () => {
  const app = Fastify()
  async function * discover ({ signal }: lolly.DiscoveryContext): AsyncIterable<lolly.DiscoveredTarget[]> {
    if (!signal.aborted) yield ['http://10.0.0.1:80', { url: 'http://10.0.0.2:80', state: 'draining' }]
  }
  expect(app.register(lolly, {
    targets: [
      'http://10.0.0.1:8080',
      { dns: 'http://api.internal:8080', weight: 2, family: 4 },
      { srv: '_http._tcp.api.service.consul', protocol: 'https', basePath: '/api', hold: 0, maxTargets: 50 },
      { discover, name: 'consul' }
    ],
    resolver: { servers: ['10.0.0.2:53'], timeout: 500, tries: 3, minInterval: 1000, maxInterval: 30_000, emptyGrace: 0 }
  })).type.not.toRaiseError()
  expect(app.register(lolly, { targets: [{ dns: 'http://a.internal', family: 5 }] })).type.toRaiseError()
  expect(app.register(lolly, { targets: [{ srv: '_http._tcp.a', protocol: 'ftp' }] })).type.toRaiseError()
  expect(app.lolly.sources).type.toBe<lolly.SourceSnapshot[]>()
  expect(app.lolly.sources[0].type).type.toBe<'dns' | 'srv' | 'discover'>()
  expect(app.lolly.targets[0].source).type.toBe<string | null>()
  app.lolly.on('target', (change) => {
    expect(change.source).type.toBe<string | null>()
  })
  expect(app.lolly.addTarget('api', { dns: 'http://a.internal' } as never)).type.not.toRaiseError()
  expect(app.lolly.addTarget('api', { dns: 'http://a.internal' })).type.toRaiseError()
})

test('websocket and affinity options, per pool and per route, and the tunnel counts are typed', () => {
  const app = Fastify()
  expect(app.register(lolly, {
    targets: ['http://10.0.0.1:3000'],
    websocket: { handshakeTimeout: 5000, idleTimeout: 0, maxTunnels: 100, drainTimeout: 10_000, halfCloseTimeout: 5000 },
    affinity: { cookie: { name: 'io', secret: ['new secret, 16+ chars', 'old secret, 16+ chars'], maxAge: 3600, secure: true, sameSite: 'None', httpOnly: true } }
  })).type.not.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], websocket: true, affinity: false })).type.not.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], affinity: { cookie: { name: 'x' } } })).type.toRaiseError()
  expect(app.register(lolly, { targets: ['http://a:1'], affinity: { cookie: { secret: 'sixteen chars ok!', sameSite: 'lax' } } })).type.toRaiseError()
  expect<lolly.RouteUpstreamOption>().type.toBeAssignableFrom({ name: 'api', websocket: true, affinity: false as const })
  expect(app.lolly.targets[0].tunnels).type.toBe<number>()
  expect(app.lolly.targets[0].handshakesFailed).type.toBe<number>()
})
