import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { startUpstreams } from './helpers/upstreams.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'

test('round-robin interleaves weights 5:1:1 smoothly and splits traffic by weight', async (t) => {
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: [{ url: ups[0].url, weight: 5 }, ups[1].url, ups[2].url] })
  app.get('/*', (_req, reply) => reply.from())
  const seen: string[] = []
  for (let i = 0; i < 70; i++) {
    const res = await app.inject('/x')
    t.equal(res.statusCode, 200)
    seen.push(res.body.split(' ')[0])
  }
  const counts = Object.fromEntries(['u0', 'u1', 'u2'].map((n) => [n, seen.filter((s) => s === n).length]))
  t.same(counts, { u0: 50, u1: 10, u2: 10 }, 'exact 5:1:1 over whole cycles')
  let run = 0
  let longest = 0
  for (const s of seen) { run = s === 'u0' ? run + 1 : 0; longest = Math.max(longest, run) }
  t.ok(longest < 5, `never 5 in a row for the heavy target (longest run ${longest})`)
})

test('round-robin: the balancer contract', (t) => checkBalancerContract(t, 'round-robin'))
