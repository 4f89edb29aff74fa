import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { request, upgrade, type Dispatcher } from 'undici'
import lolly from '../lib/index.js'
import { closedPort, startUpstream } from './helpers/upstreams.js'

// The pool is an undici dispatcher on its own too: failover and its limits hold for any undici caller.

async function pool (t: Test, targets: string[]) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets, passive: false, balancer: 'first' })
  await app.ready()
  return app.lolly.upstreams.default.dispatcher
}

test('a body that can only be read once (an async iterable) is not sent to a second target', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const ok = await startUpstream('ok')
  t.teardown(() => ok.close())
  const dispatcher = await pool(t, [refused, ok.url])
  async function * body () { yield 'once' }
  await t.rejects(request('http://pool/x', { dispatcher, method: 'PUT', body: body() as never, headers: ['x-array-headers', '1'] }),
    { code: 'FST_LOLLY_BAD_GATEWAY' })
  t.equal(ok.hits.length, 0)
  const res = await request('http://pool/x', { dispatcher, method: 'PUT', body: 'again', headers: ['x-array-headers', '1'] })
  t.equal(res.statusCode, 200, 'a string body is')
  t.equal(ok.hits[0].headers['x-array-headers'], '1')
  await res.body.dump()
})

test('classic handlers get onResponseStarted and onUpgrade through failover', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const ws = await startUpstream('ws')
  ws.server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n')
    socket.end('hello')
  })
  t.teardown(() => ws.close())
  const dispatcher = await pool(t, [refused, ws.url])

  const upgraded = await upgrade('http://pool/socket', { dispatcher, protocol: 'test' })
  t.equal(upgraded.headers.upgrade, 'test')
  const chunks: Buffer[] = []
  for await (const chunk of upgraded.socket) chunks.push(chunk as Buffer)
  t.equal(Buffer.concat(chunks).toString(), 'hello')

  let started = false
  const done = new Promise<number>((resolve, reject) => {
    let status = 0
    const handler = {
      onConnect () {},
      onResponseStarted () { started = true },
      onHeaders (statusCode: number) { status = statusCode; return true },
      onData () { return true },
      onComplete () { resolve(status) },
      onError: reject
    }
    dispatcher.dispatch({ origin: 'http://pool', path: '/plain', method: 'GET' }, handler as unknown as Dispatcher.DispatchHandler)
  })
  t.equal(await done, 200)
  t.ok(started, 'onResponseStarted reached the handler')
})
