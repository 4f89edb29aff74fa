import { test } from 'tap'
import { startGateway } from '../helpers/gateway.js'
import { rawExchange, rawGet } from '../helpers/raw-exchange.js'
import { startUpstream } from '../helpers/upstreams.js'

// CR, LF and NUL end a header line for some parser on the way; a client that can put them into a
// request line or a header value it controls can forge headers (or whole requests) for the target.
// Node's parser refuses them on the way in; undici refuses them on the way out.

test('CR, LF and NUL in the request line or a header are refused with 400 before anything is proxied', async (t) => {
  const target = await startUpstream('target')
  const gateway = await startGateway({ targets: [target.url] })
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  const attacks: Array<[string, string]> = [
    ['a bare CR in the path', 'GET /x\rX-Injected: 1 HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n'],
    ['a bare CR in a header value', rawGet('/x', 'X-A: a\rX-Injected: 1\r\n')],
    ['NUL in a header value', rawGet('/x', 'X-A: a\0X-Injected: 1\r\n')],
    ['NUL in the path', 'GET /x\0y HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n'],
    ['a space in a header name', rawGet('/x', 'X Injected: 1\r\n')],
    ['a header line without a colon', rawGet('/x', 'X-Injected\r\n')],
    ['a space in the path', 'GET /x y HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n'],
    ['a Host with CRLF folded in', 'GET /x HTTP/1.1\r\nHost: g\r\n X-Injected: 1\r\nConnection: close\r\n\r\n']
  ]
  for (const [name, bytes] of attacks) {
    const res = await rawExchange(gateway.port, bytes)
    t.ok(res.closed, `${name}: answered and closed`)
    t.equal(res.statuses[0], 400, `${name}: 400`)
  }
  t.equal(target.hits.length, 0, 'nothing reached the target')

  // Node reads a request line without a version as `GET /x` and the rest as the client's own headers:
  // nothing is injected on anyone's behalf, the client just sent a header. The proxy passes it on once.
  const res = await rawExchange(gateway.port, 'GET /x\r\nX-Injected: 1 HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n')
  t.ok(res.statuses[0] === 400 || res.statuses[0] === 200, `CRLF in the path: 400 or a plain GET /x (${res.statuses[0]})`)
  t.same(target.hits.map((hit) => hit.url), res.statuses[0] === 200 ? ['/x'] : [])
})

test('a header value a route builds from client input cannot inject a header into the proxied request', async (t) => {
  const target = await startUpstream('target')
  const gateway = await startGateway({ targets: [target.url] }, (app) => {
    app.get('/tag', (req, reply) => reply.from('/tagged', {
      rewriteRequestHeaders: (_req, headers) => ({ ...headers, 'x-tag': (req.query as { v: string }).v })
    }))
  })
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  for (const value of ['a%0d%0aX-Injected:%201', 'a%0aX-Injected:%201', 'a%0dX-Injected:%201', 'a%00b']) {
    const res = await rawExchange(gateway.port, rawGet(`/tag?v=${value}`))
    t.ok(res.closed, `${value}: answered`)
    t.ok(res.statuses[0] >= 400 && res.statuses[0] !== 500, `${value}: refused (${res.statuses[0]})`)
  }
  t.equal(target.hits.length, 0, 'undici refused to send any of them')
  const ok = await rawExchange(gateway.port, rawGet('/tag?v=fine'))
  t.equal(ok.statuses[0], 200)
  t.equal(target.hits[0].headers['x-tag'], 'fine')
  t.equal(target.hits[0].headers['x-injected'], undefined)
})

// undici refuses such a request before a byte is sent (UND_ERR_INVALID_ARG): that is the route's (or
// the client's) doing, not the target's, and must not count toward ejecting it.
test('a request undici refuses to send is not charged to the target', async (t) => {
  const targets = await Promise.all([startUpstream('a'), startUpstream('b')])
  const gateway = await startGateway({ targets: targets.map((u) => u.url), passive: { maxFails: 2 } }, (app) => {
    app.get('/tag', (req, reply) => reply.from('/tagged', {
      rewriteRequestHeaders: (_req, headers) => ({ ...headers, 'x-tag': (req.query as { v: string }).v })
    }))
  })
  t.teardown(async () => { await gateway.app.close(); await Promise.all(targets.map((u) => u.close())) })
  for (let i = 0; i < 6; i++) {
    const res = await rawExchange(gateway.port, rawGet('/tag?v=a%0d%0ab'))
    t.equal(res.statuses[0], 400, 'the client is told its request cannot be forwarded')
    t.match(res.responses[0].body, /FST_LOLLY_UNSENDABLE_REQUEST/)
  }
  for (const target of gateway.app.lolly.targets) {
    t.equal(target.failures, 0, `${target.url}: no failure charged`)
    t.equal(target.state, 'healthy', `${target.url}: still healthy`)
  }
  t.same(targets.map((u) => u.hits.length), [0, 0], 'nothing reached a target')
})

test('a client-chosen Host never picks the target, and the target is told its own host', async (t) => {
  const outside = await startUpstream('outside')
  const target = await startUpstream('target')
  const gateway = await startGateway({ targets: [target.url] })
  t.teardown(async () => { await gateway.app.close(); await target.close(); await outside.close() })
  const o = `127.0.0.1:${outside.port}`
  const variants = [
    `GET /h HTTP/1.1\r\nHost: ${o}\r\nConnection: close\r\n\r\n`,
    `GET http://${o}/h HTTP/1.1\r\nHost: ${o}\r\nConnection: close\r\n\r\n`,
    `GET /h HTTP/1.1\r\nHost: ${o}\r\nX-Forwarded-Host: ${o}\r\nX-Host: ${o}\r\nX-Original-URL: http://${o}/h\r\nConnection: close\r\n\r\n`,
    `GET /h HTTP/1.1\r\nHost: a\r\nHost: ${o}\r\nConnection: close\r\n\r\n`
  ]
  for (const bytes of variants) {
    const res = await rawExchange(gateway.port, bytes)
    t.ok(res.closed)
    t.not(res.statuses[0], 500)
  }
  t.equal(outside.hits.length, 0, 'the outside server was never reached')
  for (const hit of target.hits) t.equal(hit.headers.host, `127.0.0.1:${target.port}`, 'Host is the target\'s own')
})

test('hop-by-hop tricks: Connection naming framing or identity headers cannot break the proxied request', async (t) => {
  const target = await startUpstream('target', (req, res, body) => {
    res.setHeader('connection', 'content-length, x-keep')
    res.setHeader('x-keep', 'dropped')
    res.end(`${req.method} ${body.length}`)
  })
  const gateway = await startGateway({ targets: [target.url] })
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  const body = 'x'.repeat(100)
  const cases = [
    `POST /p HTTP/1.1\r\nHost: g\r\nContent-Type: text/plain\r\nContent-Length: 100\r\nConnection: content-length, close\r\n\r\n${body}`,
    `POST /p HTTP/1.1\r\nHost: g\r\nContent-Type: text/plain\r\nContent-Length: 100\r\nConnection: host, content-type, close\r\n\r\n${body}`,
    'GET /g HTTP/1.1\r\nHost: g\r\nConnection: close, x-forwarded-for, x-forwarded-host, x-forwarded-proto\r\n\r\n',
    'GET /g HTTP/1.1\r\nHost: g\r\nConnection: close, __proto__, constructor, transfer-encoding\r\n\r\n'
  ]
  for (const bytes of cases) {
    const res = await rawExchange(gateway.port, bytes)
    t.ok(res.closed)
    t.equal(res.statuses[0], 200, `answered 200: ${bytes.split('\r\n')[0]}`)
    t.equal(res.responses[0].headers['x-keep'], undefined, 'a header the target\'s Connection named did not reach the client')
  }
  const posts = target.hits.filter((hit) => hit.method === 'POST')
  t.same(posts.map((hit) => hit.body.length), [100, 100], 'each body arrived whole')
  for (const hit of posts) t.equal(hit.headers['content-length'], '100', 'framed by the proxy, whatever Connection named')
  for (const hit of target.hits) {
    t.equal(hit.headers.host, `127.0.0.1:${target.port}`)
    t.equal(hit.headers['x-forwarded-for'], '127.0.0.1', 'X-Forwarded-For survives being named in Connection')
    t.equal(hit.headers['x-forwarded-host'], 'g')
  }
})

// Node answers `Expect: 100-continue` itself and reads the body before the route runs; undici
// refuses to send an Expect header at all (UND_ERR_NOT_SUPPORTED). curl sends it for any body over
// 1 KiB, so forwarding it turned ordinary uploads into 502s, each charged to a target.
test('a POST with Expect: 100-continue is proxied', async (t) => {
  const target = await startUpstream('target', (_req, res, body) => res.end(`got ${body.length}`))
  const gateway = await startGateway({ targets: [target.url] })
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  const body = 'x'.repeat(2048)
  const res = await rawExchange(gateway.port,
    `POST /upload HTTP/1.1\r\nHost: g\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${body}`)
  const final = res.responses.find((r) => r.status !== 100)
  t.ok(res.closed, 'answered, no hang')
  t.not(final?.status, 500)
  t.equal(final?.status, 200, 'proxied')
  t.equal(final?.body, 'got 2048', 'the body arrived whole')
  t.equal(target.hits[0]?.headers.expect, undefined, 'Expect did not cross the proxy')
  t.equal(gateway.app.lolly.targets[0].failures, 0, 'no failure charged to the target')
})
