import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import type { MembershipChange, StateChange } from '../lib/pool/pool-events.js'
import type { LollyOptions } from '../lib/options/types.js'
import type { StatusView } from '../lib/status/status-view.js'
import { connectEvents } from './helpers/event-stream.js'
import { testProvider } from './helpers/target-provider.js'
import { closedPort, startUpstream, startUpstreams } from './helpers/upstreams.js'

test('state changes from before the page opened are in targets.json and the first event; the ring keeps the last N', async (t) => {
  const ups = await startUpstreams(2)
  const app = Fastify()
  await app.register(lolly, { targets: [{ url: ups[0].url, name: 'alpha' }, ups[1].url], status: { history: 2 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  // A listener that scribbles on the change it is given does not rewrite the page's history.
  app.lolly.on('state', (change) => { change.reason = 'scribbled' })
  app.lolly.disable('default', ups[0].url)
  app.lolly.enable('default', ups[0].url)
  app.lolly.disable('default', ups[1].url)

  const view = (await app.inject('/lolly/targets.json')).json<StatusView>()
  t.same(view.history!.map((c) => [c.name, c.target, c.from, c.to, c.reason]), [
    ['alpha', ups[0].url, 'disabled', 'healthy', 'enabled at runtime'],
    [null, ups[1].url, 'healthy', 'disabled', 'disabled at runtime']
  ], 'the last two, oldest first: the first change was written over')
  app.lolly.enable('default', ups[1].url)

  const events = await connectEvents(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/lolly/events`)
  t.teardown(() => events.close())
  const hello = (await events.next('hello')).data as StatusView
  t.same(hello.history!.map((c) => `${c.target} ${c.to}`), [`${ups[1].url} disabled`, `${ups[1].url} healthy`], 'the stream\'s first message carries them too')
  app.lolly.disable('default', ups[0].url)
  t.match((await events.next('state')).data, { name: 'alpha', to: 'disabled' }, 'a live change names its target')
})

test('history: 0 keeps none, and the page says changes show as they happen', async (t) => {
  const app = Fastify()
  await app.register(lolly, { targets: ['http://127.0.0.1:1'], status: { history: 0 } })
  t.teardown(() => app.close())
  app.lolly.disable('default', 'http://127.0.0.1:1')
  t.same((await app.inject('/lolly/targets.json')).json<StatusView>().history, [])
  t.match((await app.inject('/lolly')).body, 'Changes show here as they happen (status.history is 0).')
})

test('targets have names: in snapshots, state and membership events; unique within an upstream', async (t) => {
  const ups = await startUpstreams(3)
  const provider = testProvider([{ url: ups[2].url, name: 'pod-7' }])
  const app = Fastify()
  await app.register(lolly, {
    upstreams: {
      api: { targets: [{ url: ups[0].url, name: 'api-1 (rack 2)' }] },
      pods: { targets: [{ discover: provider.discover, name: 'registry' }] }
    },
    status: true
  })
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  const added: MembershipChange[] = []
  app.lolly.on('target', (change) => added.push(change))
  await app.ready()
  while (app.lolly.upstreams.pods.targets.length === 0) await new Promise((resolve) => setImmediate(resolve))
  app.lolly.addTarget('api', { url: ups[1].url, name: 'api-2' })
  t.same(app.lolly.targets.map((s) => [s.upstream, s.name]), [['api', 'api-1 (rack 2)'], ['api', 'api-2'], ['pods', 'pod-7']])
  t.same(added.map((c) => [c.upstream, c.name, c.change]), [['pods', 'pod-7', 'added'], ['api', 'api-2', 'added']])
  const states: StateChange[] = []
  app.lolly.on('state', (change) => states.push(change))
  app.lolly.disable('api', ups[1].url)
  t.same(states.map((c) => c.name), ['api-2'])
  const view = (await app.inject('/lolly/targets.json')).json<StatusView>()
  t.same(view.upstreams.map((u) => u.targets.map((s) => s.name)), [['api-1 (rack 2)', 'api-2'], ['pod-7']])

  const cases: Array<[unknown[], RegExp]> = [
    [[{ url: 'http://a', name: 'x' }, { url: 'http://b', name: 'x' }], /^targets\[1\]\.name must be a target name used once within its upstream, got 'x'/],
    [[{ url: 'http://a', name: '' }], /^targets\[0\]\.name must be a name of 1 to 100 printable characters, got ''/],
    [[{ url: 'http://a', name: 'a\nb' }], /^targets\[0\]\.name must be a name of 1 to 100 printable characters/],
    [[{ url: 'http://a', name: 'x'.repeat(101) }], /^targets\[0\]\.name must be/],
    [[{ url: 'http://a', name: 7 }], /^targets\[0\]\.name must be a name of 1 to 100 printable characters, got 7/]
  ]
  for (const [targets, message] of cases) {
    const bad = Fastify()
    await t.rejects(async () => { await bad.register(lolly, { targets } as LollyOptions) }, { code: 'FST_LOLLY_INVALID_OPTION', message }, JSON.stringify(targets))
    await bad.close()
  }
})

test('responses are counted by status class per target, tries with no answer as failed, and summed per upstream', async (t) => {
  const ok = await startUpstream('ok', (req, res) => {
    res.statusCode = Number(req.url!.slice(1))
    res.end()
  })
  const refused = await closedPort()
  const app = Fastify()
  await app.register(lolly, {
    upstreams: {
      api: { targets: [ok.url], retry: false, passive: false },
      down: { targets: [`http://127.0.0.1:${refused}`], retry: false, passive: false }
    },
    status: true
  })
  app.get('/down/*', { config: { upstream: 'down' } }, (_req, reply) => reply.from('/'))
  app.get('/*', (_req, reply) => reply.from())
  t.teardown(async () => { await app.close(); await ok.close() })
  for (const status of [200, 200, 204, 302, 404, 503, 799]) await app.inject(`/${status}`)
  t.equal((await app.inject('/down/x')).statusCode, 502)

  const view = (await app.inject('/lolly/targets.json')).json<StatusView>()
  const [api, down] = view.upstreams
  t.same(api.targets[0].responses, { '1xx': 0, '2xx': 3, '3xx': 1, '4xx': 1, '5xx': 1, other: 1 })
  t.equal(api.targets[0].errors, 0)
  t.match(api.totals, { requests: 7, responses: { '2xx': 3, '5xx': 1, other: 1 }, errors: 0, inflight: 0, tunnels: 0 })
  t.match(down.targets[0], { requests: 1, errors: 1, responses: { '2xx': 0, '5xx': 0 } })
  t.match(down.totals, { requests: 1, errors: 1 })
  t.equal(api.websocket, false)
})
