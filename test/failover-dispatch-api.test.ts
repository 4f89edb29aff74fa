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

test("the caller hears onResponseStarted once, for the answer it gets, not for a retried one's", async (t) => {
  const busy = await startUpstream('busy', (_req, res) => { res.statusCode = 503; res.end('busy') })
  const ok = await startUpstream('ok')
  t.teardown(async () => { await busy.close(); await ok.close() })
  const dispatcher = await pool(t, [busy.url, ok.url])
  let started = 0
  const status = await new Promise<number>((resolve, reject) => {
    let code = 0
    const handler = {
      onConnect () {},
      onResponseStarted () { started++ },
      onHeaders (statusCode: number) { code = statusCode; return true },
      onData () { return true },
      onComplete () { resolve(code) },
      onError: reject
    }
    dispatcher.dispatch({ origin: 'http://pool', path: '/', method: 'GET' }, handler as unknown as Dispatcher.DispatchHandler)
  })
  t.equal(status, 200)
  t.equal(busy.hits.length, 1, 'the first target answered 503 and was retried')
  t.equal(started, 1)
})

test('a hash key function that throws fails its request with a 500 before anything is sent', async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [up.url], balancer: 'consistent-hash', hashKey: () => { throw new Error('no tenant') } })
  app.get('/*', (_req, reply) => reply.from())
  const res = await app.inject('/x')
  t.equal(res.statusCode, 500)
  t.match(res.json(), { message: 'no tenant' })
  t.equal(up.hits.length, 0)
  t.equal(app.lolly.targets[0].inflight, 0)
})

test('direct dispatch hashes a header in any form undici takes: object of any case, flat array, pairs', async (t) => {
  const ups = await Promise.all(['a', 'b', 'c', 'd'].map((name) => startUpstream(name)))
  t.teardown(() => Promise.all(ups.map((u) => u.close())))
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: ups.map((u) => u.url), balancer: 'consistent-hash', hashKey: 'header:x-user', hashBalanceFactor: 0 })
  await app.ready()
  const dispatcher = app.lolly.upstreams.default.dispatcher
  const through = async (headers: Dispatcher.DispatchOptions['headers']): Promise<string> => {
    const res = await request('http://pool/', { dispatcher, headers: headers as never })
    return (await res.body.text()).split(' ')[0]
  }
  const owners = new Set<string>()
  for (let user = 0; user < 24; user++) {
    const forms = await Promise.all([
      through({ 'X-User': `u${user}` }),
      through(['x-user', `u${user}`]),
      through(new Map([['X-USER', `u${user}`]]) as never)
    ])
    t.equal(new Set(forms).size, 1, `user ${user}: one target whatever the form`)
    owners.add(forms[0])
  }
  t.ok(owners.size > 1, `the users spread over ${owners.size} targets`)
  const anonymous = await Promise.all([
    through({ 'x-other': 'a' }),
    through(['x-other', 'a']),
    through(new Map([['x-other', 'a']]) as never),
    through(null)
  ])
  t.equal(new Set(anonymous).size, 1, 'without the header, in any form, the key is empty: one target')
})
