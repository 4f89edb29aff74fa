import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstream, type UpstreamHandler } from './helpers/upstreams.js'

// reply.from()'s own `retryDelay` sends the same request through the pool again once it settled.
// That is the caller's retry: it goes to a target the request has not tried while there is one,
// and back to one it tried when there is not, rather than failing with "no target".

const busy: UpstreamHandler = (_req, res) => { res.statusCode = 503; res.end('busy') }

test('a caller\'s retry prefers an untried target, then goes back to a tried one', async (t) => {
  const a = await startUpstream('a', busy)
  const b = await startUpstream('b', busy)
  const app = Fastify()
  await app.register(lolly, { targets: [a.url, b.url], balancer: 'first', retry: false, passive: false })
  const attempts: number[] = []
  app.get('/*', (_req, reply) => reply.from(undefined, {
    retryDelay: ({ attempt }) => { attempts.push(attempt); return attempt < 2 ? 1 : null }
  }))
  t.teardown(async () => { await app.close(); await a.close(); await b.close() })

  let tries: unknown[] = []
  app.addHook('onResponse', async (request) => { tries = request.lolly!.tries.map((one) => [one.target, one.status]) })
  const res = await app.inject('/x')
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'busy')
  t.same(attempts, [0, 1, 2], 'the caller retried twice')
  t.same(tries, [[a.url, 503], [b.url, 503], [a.url, 503]])
})
