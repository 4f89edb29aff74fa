import { test } from 'tap'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'
import { get, rawRequest } from './helpers/raw-http.js'

// A client must never choose the host a request goes to (reply-from CVE-2021-21321 and its sequels).
test('hostile request targets never reach a host outside the pool', async (t) => {
  const outside = await startUpstream('outside')
  const target = await startUpstream('target')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await outside.close(); await target.close() })
  await app.register(lolly, { targets: [`${target.url}/base`] })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const o = outside.port

  const cases: Array<[string, (status: number) => boolean]> = [
    [`http://127.0.0.1:${o}/x`, (s) => s === 400],
    [`//127.0.0.1:${o}/x`, (s) => s === 200 || s === 400],
    ['/..%2f..%2fx', (s) => s === 400],
    ['/%2e%2e/%2e%2e/x', (s) => s === 400],
    ['/a/%252e%252e/x', (s) => s === 200],
    ['/%5c%5c127.0.0.1/x', (s) => s === 200],
    ['/%zz', (s) => s === 400],
    ['/a/../../x', (s) => s === 400]
  ]
  for (const [requestTarget, ok] of cases) {
    const res = await rawRequest(port, get(requestTarget))
    t.ok(ok(res.status), `${requestTarget} answered ${res.status}`)
    t.not(res.status, 500, `${requestTarget} is not a server error`)
  }
  t.equal(outside.hits.length, 0, 'the outside server was never reached')
  for (const hit of target.hits) t.match(hit.url, /^\/base\//, `${hit.url} stays under the target's base path`)

  const absolute = await rawRequest(port, get(`http://127.0.0.1:${o}/x`))
  t.match(JSON.parse(absolute.body), { code: 'FST_LOLLY_BAD_REQUEST_TARGET', statusCode: 400 })
})

test('an explicit source that leaves the base is refused with 400', async (t) => {
  const target = await startUpstream('target')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url] })
  app.get('/bad', (_req, reply) => reply.from('http://example.invalid/x'))
  app.get('/malformed', (_req, reply) => reply.from('http://[::1'))
  app.get('/body', (_req, reply) => reply.from('/x', { body: { no: 'body on GET' } }))
  t.equal((await app.inject('/bad')).statusCode, 400)
  t.equal((await app.inject('/malformed')).statusCode, 400)
  t.equal((await app.inject('/body')).statusCode, 500, 'other programmer errors are not disguised as 400')
  t.equal(target.hits.length, 0)
})
