import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { closedPort, startUpstream } from './helpers/upstreams.js'

// A request that failed over says so on Fastify's own "request completed" line; one that went through
// on its first try logs exactly what it did before.

test('the request completed line of a failed-over request lists its tries', async (t) => {
  const refused = `http://127.0.0.1:${await closedPort()}`
  const ok = await startUpstream('ok')
  const lines: Array<Record<string, any>> = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(async () => { await app.close(); await ok.close() })
  await app.register(lolly, { targets: [refused, ok.url], balancer: 'first', passive: false })
  app.get('/*', (_req, reply) => reply.from())
  app.get('/direct', { config: { upstream: { retry: false } } }, (_req, reply) => reply.from('/x'))

  t.equal((await app.inject('/x')).statusCode, 200)
  const completed = lines.filter((line) => line.msg === 'request completed')
  t.equal(completed.length, 1)
  t.same(completed[0].lolly.upstream, 'default')
  t.same(completed[0].lolly.tries.map((one: { target: string, status?: number, error?: string }) => [one.target, one.status ?? one.error]),
    [[refused, 'ECONNREFUSED'], [ok.url, 200]])
  t.equal(completed[0].res.statusCode, 200)

  lines.length = 0
  const single = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => single.close())
  await single.register(lolly, { targets: [ok.url] })
  single.get('/*', (_req, reply) => reply.from())
  t.equal((await single.inject('/y')).statusCode, 200)
  const plain = lines.filter((line) => line.msg === 'request completed')
  t.equal(plain.length, 1)
  t.equal(plain[0].lolly, undefined, 'one try: nothing added')

  lines.length = 0
  const res = await app.inject('/direct')
  t.equal(res.statusCode, 502)
  t.equal(lines.filter((line) => line.lolly !== undefined).length, 0, 'one failed try: the error line says it all')
})
