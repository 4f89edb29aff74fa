import { test } from 'tap'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { startGateway } from '../helpers/gateway.js'
import { rawExchange } from '../helpers/raw-exchange.js'
import { startUpstream } from '../helpers/upstreams.js'

// Request smuggling needs two parsers that disagree on where a request ends. Node's parser refuses
// ambiguous framing with 400 and closes the connection; the proxy re-frames every request it sends
// (undici computes Content-Length or chunks itself), so a second request hidden in a body can never
// reach a target as a request of its own.

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: target\r\n\r\n'

function post (headers: string, body: string): string {
  return `POST /in HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: text/plain\r\n${headers}\r\n${body}`
}

test('ambiguous request framing is refused with 400 and nothing smuggled reaches a target', async (t) => {
  const target = await startUpstream('target')
  const gateway = await startGateway({ targets: [target.url] })
  t.teardown(async () => { await gateway.app.close(); await target.close() })

  const attacks: Array<[string, string]> = [
    ['Content-Length and Transfer-Encoding', post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
    ['Transfer-Encoding and Content-Length', post(`Transfer-Encoding: chunked\r\nContent-Length: ${SMUGGLED.length + 5}\r\n`, `0\r\n\r\n${SMUGGLED}`)],
    ['two different Content-Lengths', post('Content-Length: 0\r\nContent-Length: 44\r\n', SMUGGLED)],
    ['a Content-Length list', post('Content-Length: 0, 44\r\n', SMUGGLED)],
    ['Transfer-Encoding not ending in chunked', post('Transfer-Encoding: chunked, identity\r\n', `0\r\n\r\n${SMUGGLED}`)],
    ['an obfuscated Transfer-Encoding', post('Transfer-Encoding: xchunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
    ['Transfer-Encoding folded onto a second line', post('Transfer-Encoding:\r\n chunked\r\n', `0\r\n\r\n${SMUGGLED}`)],
    ['a space before the colon', post('Transfer-Encoding : chunked\r\nContent-Length: 4\r\n', `0\r\n\r\n${SMUGGLED}`)],
    ['a negative Content-Length', post('Content-Length: -1\r\n', SMUGGLED)],
    ['a chunk size that overflows', post('Transfer-Encoding: chunked\r\n', `fffffffffffffffff1\r\nx\r\n0\r\n\r\n${SMUGGLED}`)],
    ['a chunk without its CRLF', post('Transfer-Encoding: chunked\r\n', `3\r\nabcX\r\n0\r\n\r\n${SMUGGLED}`)]
  ]
  for (const [name, bytes] of attacks) {
    const res = await rawExchange(gateway.port, bytes)
    t.ok(res.closed, `${name}: the connection was closed, no hang`)
    t.equal(res.statuses[0], 400, `${name}: 400`)
    t.equal(res.statuses.length, 1, `${name}: one response only, the smuggled request got none`)
  }
  t.same(target.hits.filter((hit) => hit.url === '/smuggled'), [], 'the target never saw a smuggled request')
  t.equal(target.hits.length, 0, 'and no half of an ambiguous request reached it either')
  t.equal(gateway.app.lolly.targets[0].failures, 0)
})

test('a request hidden in a well-framed body stays body: the target gets it as bytes, once', async (t) => {
  const target = await startUpstream('target')
  const gateway = await startGateway({ targets: [target.url] })
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  const chunked = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`
  const bytes = post('Transfer-Encoding: chunked\r\n', chunked) + 'GET /next HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n'
  const res = await rawExchange(gateway.port, bytes)
  t.same(res.statuses, [200, 200], 'two requests on the connection, two answers')
  t.same(target.hits.map((hit) => [hit.method, hit.url]).sort(), [['GET', '/next'], ['POST', '/in']])
  const posted = target.hits.find((hit) => hit.method === 'POST')!
  t.equal(posted.body, SMUGGLED, 'the hidden request arrived as the body')
  t.equal(posted.headers['content-length'], String(SMUGGLED.length), 're-framed with a Content-Length')
  t.equal(posted.headers['transfer-encoding'], undefined)
  t.same(res.responses.map((r) => r.body), ['target POST /in', 'target GET /next'])
})

test('a target response with extra bytes after it cannot poison the next client\'s response', async (t) => {
  // A raw target: answers the first request with a 5-byte body followed by a forged second response.
  let connections = 0
  let requests = 0
  const poisoner = net.createServer((socket) => {
    connections++
    socket.on('data', (data) => {
      const heads = data.toString('latin1').split('\r\n\r\n').length - 1
      for (let i = 0; i < heads; i++) {
        requests++
        const forged = 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned'
        socket.write(requests === 1
          ? `HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello${forged}`
          : 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nclean')
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => poisoner.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(poisoner.address() as AddressInfo).port}`
  const gateway = await startGateway({ targets: [url], passive: false })
  t.teardown(async () => { await gateway.app.close(); poisoner.close() })

  const first = await fetch(`${gateway.url}/a`)
  const firstBody = await first.text()
  t.ok(first.status === 200 || first.status === 502, `the first answer is the target's or a 502 (${first.status})`)
  t.not(firstBody, 'poisoned')
  for (let i = 0; i < 3; i++) {
    const next = await fetch(`${gateway.url}/b${i}`)
    const body = await next.text()
    t.not(body, 'poisoned', `request ${i + 2} did not get the forged response`)
    t.equal(next.status, 200)
    t.equal(body, 'clean')
  }
  t.ok(connections >= 2, 'the poisoned connection was not reused')
  t.equal(gateway.app.lolly.targets[0].inflight, 0)
})
