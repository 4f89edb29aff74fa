import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream } from './helpers/upstreams.js'

test('reply.from() keeps its own options: header rewriting both ways, onResponse, body rewriting', async (t) => {
  const up = await startUpstream('up', (req, res, body) => {
    res.setHeader('x-upstream', 'yes')
    res.setHeader('connection', 'keep-alive')
    res.setHeader('keep-alive', 'timeout=5')
    res.end(JSON.stringify({ url: req.url, body, mine: req.headers['x-mine'] ?? null, xff: req.headers['x-forwarded-for'] }))
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.post('/rewrite', (_req, reply) => reply.from('/elsewhere', {
    rewriteRequestHeaders: (_req, headers) => ({ ...headers, 'x-mine': 'added' }),
    rewriteHeaders: (headers) => ({ ...headers, 'x-rewritten': String(headers['keep-alive'] === undefined) }),
    body: { replaced: true }
  }))
  app.get('/on-response', (_req, reply) => reply.from('/r', {
    onResponse (_request, reply, res) {
      reply.header('x-on-response', 'ran')
      reply.send(res.stream)
    }
  }))
  app.get('/fresh-headers', (_req, reply) => reply.from('/f', {
    // Returns a brand-new object: the proxy must still find its way to the pool.
    rewriteRequestHeaders: (_req, headers) => ({ host: headers.host as string, 'x-mine': 'only' })
  }))

  const rewritten = await app.inject({ method: 'POST', url: '/rewrite', payload: { original: 1 } })
  t.equal(rewritten.statusCode, 200)
  t.same(rewritten.json(), { url: '/elsewhere', body: '{"replaced":true}', mine: 'added', xff: '127.0.0.1' })
  t.equal(rewritten.headers['x-upstream'], 'yes')
  t.equal(rewritten.headers['x-rewritten'], 'true', 'hop-by-hop headers were stripped before the user hook ran')

  const onResponse = await app.inject('/on-response')
  t.equal(onResponse.headers['x-on-response'], 'ran')
  t.equal(onResponse.json().url, '/r')

  const fresh = await app.inject('/fresh-headers')
  t.match(fresh.json(), { url: '/f', mine: 'only', xff: null })
})
