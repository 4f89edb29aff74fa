import { test } from 'tap'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'
import { get, rawRequest } from './helpers/raw-http.js'

test('hop-by-hop headers cross the proxy in neither direction', async (t) => {
  const target = await startUpstream('target', (_req, res) => {
    res.setHeader('keep-alive', 'timeout=99')
    res.setHeader('proxy-authenticate', 'Basic')
    res.setHeader('trailer', 'x-t')
    res.setHeader('x-private', 'hidden')
    res.setHeader('x-public', 'shown')
    res.setHeader('connection', 'x-private')
    res.end('ok')
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url] })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  const res = await rawRequest(port, get('/h',
    'Keep-Alive: timeout=5\r\nUpgrade: foo\r\nTE: trailers\r\nProxy-Authorization: secret\r\nProxy-Connection: keep-alive\r\n' +
    'X-Secret: s\r\nConnection: x-secret, x-forwarded-for\r\n'))
  t.equal(res.status, 200, 'a request carrying hop-by-hop headers is proxied (undici would refuse Keep-Alive/Upgrade)')
  const sent = target.hits[0].headers
  for (const name of ['keep-alive', 'upgrade', 'te', 'proxy-authorization', 'proxy-connection', 'x-secret']) {
    t.equal(sent[name], undefined, `${name} did not reach the target`)
  }
  t.equal(sent['x-forwarded-for'], '127.0.0.1', 'Connection: x-forwarded-for cannot strip a header the proxy adds')
  for (const name of ['keep-alive', 'proxy-authenticate', 'trailer', 'x-private']) {
    t.equal(res.headers[name], undefined, `${name} did not reach the client`)
  }
  t.equal(res.headers['x-public'], 'shown')
})
