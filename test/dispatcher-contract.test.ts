import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { Agent, BalancedPool, errors, interceptors, request, type Dispatcher } from 'undici'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'

// A pool's dispatcher keeps undici's Dispatcher contract, so undici's own machinery (compose()d
// interceptors, pools and agents built over it) works with it as with undici's dispatchers.

async function dispatcherOf (t: Test, targets: string[], options: Record<string, unknown> = {}): Promise<Dispatcher> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets, ...options })
  await app.ready()
  return app.lolly.upstreams.default.dispatcher
}

test('a new-style handler (onRequestStart, onResponseStart, ...) gets the answer, and can pause and resume it', async (t) => {
  const up = await startUpstream('up', (_req, res) => res.end('x'.repeat(100_000)))
  t.teardown(() => up.close())
  const dispatcher = await dispatcherOf(t, [up.url])
  const events: string[] = []
  let size = 0
  const status = await new Promise<number>((resolve, reject) => {
    let code = 0
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart (controller) { events.push(`start ${controller.aborted}`) },
      onResponseStarted () { events.push('response started') },
      onResponseStart (controller, statusCode, headers) {
        code = statusCode
        events.push(`headers ${headers['content-length']}`)
        controller.resume()
        t.equal(controller.paused, false, 'resuming what is not paused changes nothing')
        controller.pause()
        setTimeout(() => controller.resume(), 10)
      },
      onResponseData (_controller, chunk) { size += chunk.length },
      onResponseEnd (controller, trailers) {
        events.push(`end ${JSON.stringify(trailers)} ${controller.rawTrailers === null ? 'no' : 'some'} trailers`)
        resolve(code)
      },
      onResponseError (_controller, err) { reject(err) }
    }
    t.equal(dispatcher.dispatch({ origin: 'http://pool', path: '/n', method: 'GET' }, handler), true)
  })
  t.equal(status, 200)
  t.equal(size, 100_000)
  t.same(events, ['start false', 'response started', 'headers 100000', 'end {} some trailers'])
})

test('a new-style handler can abort through its controller, hears an upgrade, and gets a controller even for an error before connecting', async (t) => {
  const up = await startUpstream('up', (_req, res) => {
    res.write('x'.repeat(1000))
    // The rest never comes: only an abort ends this answer.
  })
  up.server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n')
    socket.end('hello')
  })
  t.teardown(() => up.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [up.url], retry: false })
  await app.ready()
  const dispatcher = app.lolly.upstreams.default.dispatcher

  const cut = new Error('enough')
  const aborted = await new Promise<{ err: Error, reason: Error | null, aborted: boolean }>((resolve) => {
    dispatcher.dispatch({ origin: 'http://pool', path: '/stream', method: 'GET' }, {
      onRequestStart () {},
      onResponseStart () {},
      onResponseData (controller) {
        controller.abort(cut)
        controller.abort(new Error('a second abort changes nothing'))
      },
      onResponseError (controller, err) { resolve({ err, reason: controller.reason, aborted: controller.aborted }) }
    } as Dispatcher.DispatchHandler)
  })
  t.equal(aborted.err, cut)
  t.equal(aborted.reason, cut)
  t.equal(aborted.aborted, true)

  const upgraded = await new Promise<{ statusCode: number, upgrade: unknown, raw: boolean }>((resolve, reject) => {
    dispatcher.dispatch({ origin: 'http://pool', path: '/socket', method: 'GET', upgrade: 'test' }, {
      onRequestStart () {},
      onRequestUpgrade (controller, statusCode, headers, socket) {
        socket.destroy()
        resolve({ statusCode, upgrade: headers.upgrade, raw: Array.isArray(controller.rawHeaders) })
      },
      onResponseError (_controller, err) { reject(err) }
    } as Dispatcher.DispatchHandler)
  })
  t.same(upgraded, { statusCode: 101, upgrade: 'test', raw: true })

  app.lolly.disable('default', up.url)
  const early = await new Promise<Dispatcher.DispatchController>((resolve) => {
    dispatcher.dispatch({ origin: 'http://pool', path: '/', method: 'GET' }, {
      onRequestStart () {},
      onResponseError (controller) { resolve(controller) }
    } as Dispatcher.DispatchHandler)
  })
  early.abort(new Error('nothing to abort'))
  t.equal(early.aborted, true, 'its abort is harmless')
})

test("under compose() with undici's own interceptors: redirects followed and error statuses thrown", async (t) => {
  const up = await startUpstream('up', (req, res) => {
    if (req.url === '/old') {
      res.statusCode = 301
      res.setHeader('location', '/new')
      res.end()
    } else if (req.url === '/missing') {
      res.statusCode = 404
      res.end('nope')
    } else {
      res.end(`up ${req.url}`)
    }
  })
  t.teardown(() => up.close())
  const composed = (await dispatcherOf(t, [up.url])).compose(interceptors.redirect({ maxRedirections: 2 }), interceptors.responseError())
  const res = await request('http://pool/old', { dispatcher: composed })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'up /new')
  t.same(up.hits.map((hit) => hit.url), ['/old', '/new'])
  await t.rejects(request('http://pool/missing', { dispatcher: composed }), { statusCode: 404 } as never, 'the responseError interceptor saw the 404')
})

test('no target to take a request is an error for that request, not "busy": pools and agents built over it keep going', async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [up.url] })
  const dispatcher = app.lolly.upstreams.default.dispatcher
  // A BalancedPool stops giving work to a dispatcher that returned false until it emits 'drain'.
  const balanced = new BalancedPool(['http://pool'], { factory: () => dispatcher as never })
  const agent = new Agent({ factory: () => dispatcher as never })
  t.teardown(async () => { await balanced.destroy(); await agent.destroy() })

  app.lolly.disable('default', up.url)
  let returned: boolean | undefined
  const refused = await new Promise<Error>((resolve) => {
    returned = dispatcher.dispatch({ origin: 'http://pool', path: '/', method: 'GET' }, {
      onConnect () {},
      onHeaders () { return true },
      onData () { return true },
      onComplete () {},
      onError: resolve
    } as unknown as Dispatcher.DispatchHandler)
  })
  t.equal(returned, true, 'accepted, and failed: no drain is owed')
  t.match(refused, { code: 'FST_LOLLY_NO_AVAILABLE_TARGET' })
  await t.rejects(request('http://pool/a', { dispatcher: balanced }), { code: 'FST_LOLLY_NO_AVAILABLE_TARGET' })
  await t.rejects(request('http://pool/a', { dispatcher: agent }), { code: 'FST_LOLLY_NO_AVAILABLE_TARGET' })

  app.lolly.enable('default', up.url)
  for (const through of [balanced, agent]) {
    const res = await request('http://pool/b', { dispatcher: through, headersTimeout: 2000 })
    t.equal(await res.body.text(), 'up GET /b', 'the next request goes through at once')
  }
})

test('bad arguments and a closed pool are reported as undici reports them', async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  const dispatcher = await dispatcherOf(t, [up.url])
  t.throws(() => dispatcher.dispatch({ path: '/', method: 'GET' }, null as never), errors.InvalidArgumentError, 'no handler: thrown')
  const seen: Error[] = []
  const handler = { onError: (err: Error) => seen.push(err) } as unknown as Dispatcher.DispatchHandler
  t.equal(dispatcher.dispatch(null as never, handler), false)
  t.type(seen[0], errors.InvalidArgumentError, 'bad options: to the handler')
  t.throws(() => dispatcher.dispatch(null as never, {} as never), errors.InvalidArgumentError, 'and thrown when it has no onError')
  const newStyle = {
    onResponseError: (_controller: Dispatcher.DispatchController, err: Error) => seen.push(err),
    onRequestStart () {}
  } as unknown as Dispatcher.DispatchHandler
  t.equal(dispatcher.dispatch(null as never, newStyle), false)
  t.type(seen[1], errors.InvalidArgumentError, 'a new-style handler hears it through onResponseError')
  const noErrorMethod = { onRequestStart () {} } as unknown as Dispatcher.DispatchHandler
  t.throws(() => dispatcher.dispatch(null as never, noErrorMethod), errors.InvalidArgumentError, 'a new-style handler without onResponseError')

  await dispatcher.close()
  t.equal(dispatcher.dispatch({ path: '/', method: 'GET' }, handler), false, 'closed: false, as undici returns for a closed dispatcher')
  t.match(seen[2], { code: 'FST_LOLLY_POOL_CLOSED' })
})

test("the targets' connection events are re-emitted, with the pool's dispatcher first", async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: ['http://127.0.0.1:1'], retry: false, passive: false })
  await app.ready()
  const dispatcher = app.lolly.upstreams.default.dispatcher
  const events: Array<[string, string, boolean]> = []
  dispatcher.on('connect', (origin, targets) => events.push(['connect', String(origin), targets[0] === dispatcher]))
  dispatcher.on('disconnect', (origin, targets) => events.push(['disconnect', String(origin), targets[0] === dispatcher]))
  dispatcher.on('connectionError', (origin, targets) => events.push(['connectionError', String(origin), targets[0] === dispatcher]))
  await t.rejects(request('http://pool/', { dispatcher }), { code: 'FST_LOLLY_BAD_GATEWAY' })
  app.lolly.addTarget('default', up.url)
  app.lolly.disable('default', 'http://127.0.0.1:1')
  const res = await request('http://pool/', { dispatcher })
  await res.body.dump()
  await app.lolly.removeTarget('default', up.url)
  t.same(events, [
    ['connectionError', 'http://127.0.0.1:1/', true],
    ['connect', `${up.url}/`, true],
    ['disconnect', `${up.url}/`, true]
  ])
})
