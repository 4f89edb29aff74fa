import { test } from 'tap'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import lolly from '../lib/index.js'
import { poolOf } from './helpers/internals.js'
import { until } from './helpers/fleet.js'
import { WebSocket } from 'ws'
import { connect, exchangeText, startGateway, startWsTarget } from './helpers/ws-targets.js'

test('the 101 carries the target\'s headers (repeated ones too) through the caller\'s rewriteHeaders; a header a hook made invalid is dropped, not written', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  target.extraHeaders.push('Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Powered-By: ws', 'Keep-Alive: timeout=5')
  const warnings: string[] = []
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: true }, (app) => {
    app.get('/ws', (request, reply) => {
      reply.log.warn = ((_fields: unknown, message: string) => { warnings.push(message) }) as never
      reply.from(undefined, {
        rewriteRequestHeaders: (_request, headers) => ({ ...headers, 'x-user': 'alice' }),
        rewriteHeaders: (headers) => ({ ...headers, 'x-powered-by': undefined, 'x-gateway': 'lolly', 'x-bad': 'a\r\nInjected: yes' })
      })
    })
  })
  t.teardown(async () => { await app.close(); await target.close() })
  const { ws, headers } = await connect(`${wsUrl}/ws`)
  t.same(headers['set-cookie'], ['a=1', 'b=2'], 'both of the target\'s cookies')
  t.equal(headers['x-gateway'], 'lolly')
  t.notOk(headers['x-powered-by'], 'a header the hook removed')
  t.notOk(headers['keep-alive'], 'hop-by-hop headers stay on their hop')
  t.notOk(headers.injected, 'no header injected through a value')
  t.notOk(headers['x-bad'])
  t.same(warnings, ['dropped a WebSocket response header that is not a valid header'])
  t.equal(target.handshakes[0]['x-user'], 'alice', 'rewriteRequestHeaders applies to the handshake')
  ws.close()
})

test('a relayed refusal whose body breaks off gives its tunnel place back once', async (t) => {
  const target = await startWsTarget('127.0.0.2', 'answer-403-cut')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: { maxTunnels: 1 } })
  t.teardown(async () => { await app.close(); await target.close() })
  for (let i = 0; i < 3; i++) {
    const client = new WebSocket(`${wsUrl}/ws`)
    client.on('error', () => {})
    const status = await new Promise<number>((resolve) => client.once('unexpected-response', (_request, res) => {
      res.resume()
      res.once('close', () => resolve(res.statusCode!))
    }))
    t.equal(status, 403, 'the refusal went to the client, cut where the target cut it')
  }
  t.equal(poolOf(app).tunnels.size, 0, 'each gave its place back, exactly once')
  target.behaviour = 'upgrade'
  const { ws } = await connect(`${wsUrl}/ws`)
  t.equal(poolOf(app).tunnels.size, 1)
  ws.close()
})

test('tunnel metrics: open tunnels, opened, failed handshakes per target', async (t) => {
  const good = await startWsTarget('127.0.0.2')
  const bad = await startWsTarget('127.0.0.3', 'answer-503')
  const registry = new Registry()
  const app = Fastify()
  t.teardown(async () => { await app.close(); await good.close(); await bad.close() })
  await app.register(lolly, {
    metrics: { registry },
    upstreams: {
      ws: { targets: [bad.url, good.url], balancer: 'first', websocket: true },
      plain: { targets: ['http://127.0.0.1:1'] }
    }
  })
  app.get('/ws', { config: { upstream: 'ws' } }, (_request, reply) => { reply.from() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const { ws } = await connect(`ws://127.0.0.1:${port}/ws`)
  const text = await registry.metrics()
  t.match(text, `lolly_target_tunnels{upstream="ws",target="${good.url}"} 1`)
  t.match(text, `lolly_tunnels_opened_total{upstream="ws",target="${good.url}"} 1`)
  t.match(text, `lolly_tunnel_handshakes_failed_total{upstream="ws",target="${bad.url}"} 1`)
  t.notMatch(text, /lolly_target_tunnels\{upstream="plain"/, 'no series for a pool that never tunnelled')
  ws.close()
  await until(() => app.lolly.upstreams.ws.targets[1].tunnels === 0, 2000, 'closed')
  t.match(await registry.metrics(), `lolly_target_tunnels{upstream="ws",target="${good.url}"} 0`)
})

test('headers the route\'s hooks set go on the 101 too (cookies beside the target\'s); a handshake without a key is the target\'s to refuse', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  target.extraHeaders.push('Set-Cookie: from=target', 'X-Served-By: target')
  const { app, wsUrl } = await startGateway({ targets: [target.url], websocket: { idleTimeout: 0 } }, (app) => {
    app.get('/ws', {
      onRequest: async (_request, reply) => {
        reply.header('x-request-id', 'r1').header('set-cookie', 'session=1').header('x-served-by', 'hook').header('keep-alive', 'timeout=5')
      }
    }, (_request, reply) => { reply.from() })
  })
  t.teardown(async () => { await app.close(); await target.close() })
  const { ws, headers } = await connect(`${wsUrl}/ws`)
  t.equal(headers['x-request-id'], 'r1')
  t.same(headers['set-cookie'], ['session=1', 'from=target'])
  t.equal(headers['x-served-by'], 'target', 'the target\'s own header wins, as for HTTP')
  t.notOk(headers['keep-alive'])
  ws.close()

  const keyless = await exchangeText(wsUrl, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n')
  t.match(keyless, /^HTTP\/1\.1 400 /, 'ws refuses it; the answer is relayed')
})
