import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { poolOf } from './helpers/internals.js'

async function registerError (options: unknown, route?: unknown): Promise<string> {
  const app = Fastify()
  try {
    await app.register(lolly, options as never)
    if (route !== undefined) app.get('/r', { config: { upstream: route as never } }, (_request, reply) => { reply.from() })
    await app.ready()
  } catch (err) {
    return (err as Error).message
  } finally {
    await app.close()
  }
  throw new Error('register did not fail')
}

test('websocket options: defaults, true, an object over what is inherited, false', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, {
    websocket: { idleTimeout: 0 },
    upstreams: {
      inherits: { targets: ['http://127.0.0.1:1'] },
      own: { targets: ['http://127.0.0.1:2'], websocket: { maxTunnels: 5, drainTimeout: 0 } },
      off: { targets: ['http://127.0.0.1:3'], websocket: false },
      on: { targets: ['http://127.0.0.1:4'], websocket: true }
    }
  })
  await app.ready()
  t.same(poolOf(app, 'inherits').config.websocket, { enabled: true, handshakeTimeout: 10_000, idleTimeout: 0, maxTunnels: 10_000, drainTimeout: 30_000, halfCloseTimeout: 10_000 })
  t.same(poolOf(app, 'own').config.websocket, { enabled: true, handshakeTimeout: 10_000, idleTimeout: 0, maxTunnels: 5, drainTimeout: 0, halfCloseTimeout: 10_000 })
  t.same(poolOf(app, 'off').config.websocket, { enabled: false, handshakeTimeout: 10_000, idleTimeout: 0, maxTunnels: 10_000, drainTimeout: 30_000, halfCloseTimeout: 10_000 })
  t.equal(poolOf(app, 'on').config.websocket.enabled, true)

  const plain = Fastify()
  t.teardown(() => plain.close())
  await plain.register(lolly, { targets: ['http://127.0.0.1:1'] })
  await plain.ready()
  t.same(poolOf(plain, 'default').config.websocket, { enabled: false, handshakeTimeout: 10_000, idleTimeout: 3_600_000, maxTunnels: 10_000, drainTimeout: 30_000, halfCloseTimeout: 10_000 })
  t.equal(plain.server.listenerCount('upgrade'), 0, 'no upgrade listener when nothing tunnels: Node serves such requests as it always did')
})

test('bad websocket options fail naming their path and value', async (t) => {
  const targets = ['http://127.0.0.1:1']
  t.equal(await registerError({ targets, websocket: 'yes' }), "websocket must be a boolean or an object, got 'yes'")
  t.equal(await registerError({ targets, websocket: { handshakeTimeout: 0 } }), 'websocket.handshakeTimeout must be a positive integer, got 0')
  t.equal(await registerError({ targets, websocket: { maxTunnels: 0 } }), 'websocket.maxTunnels must be an integer from 1 to 1000000, got 0')
  t.equal(await registerError({ targets, websocket: { idleTimeout: -1 } }), 'websocket.idleTimeout must be an integer >= 0, got -1')
  t.equal(await registerError({ targets, websocket: { halfCloseTimeout: 1.5 } }), 'websocket.halfCloseTimeout must be an integer >= 0, got 1.5')
  t.equal(await registerError({ upstreams: { api: { targets, websocket: { drainTime: 1 } } } }), 'upstreams.api.websocket.drainTime is not a known option (known: handshakeTimeout, idleTimeout, maxTunnels, drainTimeout, halfCloseTimeout); did you mean drainTimeout?')
  t.equal(await registerError({ targets }, { websocket: 1 }), 'route GET /r: config.upstream.websocket must be a boolean, got 1')
  t.match(await registerError({ targets }, { affinity: { cookie: { secret: 'short' } } }), /^route GET \/r: config\.upstream\.affinity\.cookie\.secret must be a string of at least 16 characters/)
})
