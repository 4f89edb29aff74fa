import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'

test('X-Forwarded-* come from Fastify\'s view: a spoofed chain is replaced without trustProxy', async (t) => {
  const target = await startUpstream('target')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url] })
  app.get('/*', (_req, reply) => reply.from())
  await app.inject({ url: '/a', headers: { 'x-forwarded-for': '6.6.6.6', host: 'public.example' } })
  t.match(target.hits[0].headers, {
    'x-forwarded-for': '127.0.0.1',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'public.example',
    host: `127.0.0.1:${target.port}`
  })
})

test('with trustProxy the vouched-for chain is kept and the peer appended', async (t) => {
  const target = await startUpstream('target')
  const app = Fastify({ trustProxy: true })
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url] })
  app.get('/*', (_req, reply) => reply.from())
  await app.inject({ url: '/a', headers: { 'x-forwarded-for': '10.1.1.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' } })
  t.match(target.hits[0].headers, {
    'x-forwarded-for': '10.1.1.1, 127.0.0.1',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'shop.example'
  })
})

test('xForwarded: false leaves the headers alone', async (t) => {
  const target = await startUpstream('target')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url], xForwarded: false })
  app.get('/*', (_req, reply) => reply.from())
  await app.inject({ url: '/a', headers: { 'x-forwarded-for': '6.6.6.6' } })
  t.equal(target.hits[0].headers['x-forwarded-for'], '6.6.6.6')
  t.equal(target.hits[0].headers['x-forwarded-proto'], undefined)
})

test('with a trustProxy list only the vouched-for part of the chain is forwarded', async (t) => {
  const target = await startUpstream('target')
  const app = Fastify({ trustProxy: ['127.0.0.1', '10.0.0.0/8'] })
  t.teardown(async () => { await app.close(); await target.close() })
  await app.register(lolly, { targets: [target.url] })
  app.get('/*', (_req, reply) => reply.from())
  // 6.6.6.6 was written by the client itself; 203.0.113.9 is the client as our trusted 10.x proxy saw it.
  await app.inject({ url: '/a', headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.0.0.2' } })
  t.equal(target.hits[0].headers['x-forwarded-for'], '203.0.113.9, 10.0.0.2, 127.0.0.1')
})
