import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { checkBalancerContract } from './helpers/balancer-contract.js'
import { balancerSet, makeTargets, request, writable } from './helpers/tier-targets.js'
import { startUpstreams } from './helpers/upstreams.js'
import { poolOf } from './helpers/internals.js'

test('first: the balancer contract', (t) => checkBalancerContract(t, 'first'))

test('first: everything goes to the first target that can take it, in declared order, whatever the weights', async (t) => {
  const targets = makeTargets(t, [{ maxConnections: 2 }, { weight: 10, maxConnections: 1 }, {}])
  const set = balancerSet('first', targets)
  const pickAndBegin = () => {
    const target = set.pick(set.keyOf(undefined, request()), undefined)!
    writable(target).inflight++
    set.onLoadChange(target)
    return targets.indexOf(target)
  }
  t.same([pickAndBegin(), pickAndBegin(), pickAndBegin(), pickAndBegin(), pickAndBegin()], [0, 0, 1, 2, 2],
    'fills the first to its cap, then the second, then the third')
  writable(targets[0]).inflight = 0
  set.onLoadChange(targets[0])
  t.equal(pickAndBegin(), 0, 'back to the first as soon as it has room')
})

test('first: through the plugin, the standby takes over only while the active target is out', async (t) => {
  const ups = await startUpstreams(2)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { balancer: 'first', targets: [ups[0].url, { url: ups[1].url, weight: 5 }] })
  app.get('/*', (_req, reply) => reply.from())
  const pool = poolOf(app)
  const served = async (): Promise<string[]> => {
    const names: string[] = []
    for (let i = 0; i < 10; i++) names.push((await app.inject('/x')).body.split(' ')[0])
    return [...new Set(names)]
  }
  t.same(await served(), ['u0'], 'all 10 to the active target (1.0 share, no tolerance)')
  pool.health.transition(pool.target(ups[0].url)!, 'disabled', 'maintenance')
  t.same(await served(), ['u1'], 'active disabled: the standby')
  pool.health.transition(pool.target(ups[0].url)!, 'healthy', 'back')
  t.same(await served(), ['u0'], 'active back: all to it again')
})
