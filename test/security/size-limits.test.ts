import { test } from 'tap'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { startGateway } from '../helpers/gateway.js'
import { rawExchange, rawGet } from '../helpers/raw-exchange.js'
import { startUpstream } from '../helpers/upstreams.js'

// Oversized input is refused where it arrives, before a target spends anything on it, and an
// oversized answer from a target is a bad gateway, not a crash.

test('a 50 KB request header is refused with 431 and never proxied', async (t) => {
  const target = await startUpstream('target')
  const gateway = await startGateway({ targets: [target.url] })
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  const res = await rawExchange(gateway.port, rawGet('/x', `X-Big: ${'a'.repeat(50 * 1024)}\r\n`))
  t.ok(res.closed)
  t.equal(res.statuses[0], 431)
  t.equal(target.hits.length, 0)
  // Many small headers under the byte limit are a legitimate (if odd) request: passed on, or refused.
  const many = Array.from({ length: 1500 }, (_, i) => `X-H${i}: v\r\n`).join('')
  const res2 = await rawExchange(gateway.port, rawGet('/x', many))
  t.ok([200, 400, 431].includes(res2.statuses[0]), `1500 small headers: ${res2.statuses[0]}`)
})

test('a body over the route\'s limit is refused with 413, declared or chunked, and never proxied', async (t) => {
  const target = await startUpstream('target', (_req, res, body) => res.end(`got ${body.length}`))
  const gateway = await startGateway({ targets: [target.url] }, (app) => {
    app.post('/small', { bodyLimit: 1024 }, (_req, reply) => reply.from())
  })
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  const big = 'x'.repeat(1024 * 1024)
  const declared = await rawExchange(gateway.port,
    `POST /small HTTP/1.1\r\nHost: g\r\nContent-Type: text/plain\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n${big}`)
  t.equal(declared.statuses[0], 413, 'a declared Content-Length over the limit')
  const chunk = 'x'.repeat(16 * 1024)
  let chunked = ''
  for (let i = 0; i < 64; i++) chunked += `${chunk.length.toString(16)}\r\n${chunk}\r\n`
  const streamed = await rawExchange(gateway.port,
    `POST /small HTTP/1.1\r\nHost: g\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}0\r\n\r\n`)
  t.equal(streamed.statuses[0], 413, 'a chunked body that grows over the limit')
  const lying = await rawExchange(gateway.port,
    `POST /small HTTP/1.1\r\nHost: g\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${'y'.repeat(5000)}`)
  t.not(lying.statuses[0], 500, `a body longer than its Content-Length: ${lying.statuses[0]}`)
  t.ok(target.hits.every((hit) => hit.body.length <= 1024), 'nothing over the limit reached the target')
  const fine = await rawExchange(gateway.port,
    `POST /small HTTP/1.1\r\nHost: g\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${'z'.repeat(10)}`)
  t.equal(fine.responses[0]?.body, 'got 10', 'a body within the limit is proxied')
})

test('a target answering with oversized headers is a 502, and the gateway keeps serving', async (t) => {
  let hugeHeaders = true
  const target = net.createServer((socket) => {
    socket.on('data', () => {
      socket.end(hugeHeaders
        ? `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(100 * 1024)}\r\nContent-Length: 2\r\n\r\nok`
        : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
  const gateway = await startGateway({ targets: [`http://127.0.0.1:${(target.address() as AddressInfo).port}`] })
  t.teardown(async () => { await gateway.app.close(); target.close() })
  const res = await fetch(`${gateway.url}/x`)
  t.equal(res.status, 502)
  t.equal(((await res.json()) as { code: string }).code, 'FST_LOLLY_BAD_GATEWAY')
  hugeHeaders = false
  const after = await fetch(`${gateway.url}/y`)
  t.equal(after.status, 200)
  t.equal(await after.text(), 'ok')
  t.equal(gateway.app.lolly.targets[0].inflight, 0)
})
