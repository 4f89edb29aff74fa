import Fastify from 'fastify'
import type { Test } from 'tap'
import lolly from '../../lib/index.js'
import type { BalancerName } from '../../lib/options/types.js'
import type { Target } from '../../lib/pool/target.js'
import { balancerFor, balancerSet, context, makeTargets, request, writable } from './tier-targets.js'
import { startUpstreams } from './upstreams.js'
import { poolOf } from './internals.js'

/**
 * What every balancer owes the pool (lib/balancers/balancer.ts), checked on one balancer by name:
 * attempts 0..size-1 offer every target of the tier exactly once, whatever the weights and loads;
 * a BalancerSet never hands out a target at its maxConnections or excluded by the request, and uses
 * backups only when no primary can take the request; and through the plugin, a target taken out
 * (runtime setState or `down: true`) gets nothing, and backups get traffic only when every primary is out.
 */
export async function checkBalancerContract (t: Test, name: BalancerName): Promise<void> {
  await t.test('attempts 0..size-1 offer every target of the tier once', async (t) => {
    for (const n of [1, 2, 3, 5, 8]) {
      const targets = makeTargets(t, Array.from({ length: n }, (_, i) => ({ weight: 1 + (i % 4) })))
      const balancer = balancerFor(name, targets)
      t.equal(balancer.size, n)
      for (let round = 0; round < 60; round++) {
        // Vary the load so load-aware balancers start from different targets.
        for (const target of targets) {
          writable(target).inflight = (round * 7 + target.index * 3) % 5
          balancer.onLoadChange?.(target)
        }
        const ctx = context(`key-${round}`)
        const seen = new Set<Target>()
        for (let attempt = 0; attempt < n; attempt++) seen.add(balancer.pick(ctx, attempt)!)
        if (seen.size !== n) {
          t.equal(seen.size, n, `${n} targets, round ${round}: every target offered once`)
          return
        }
      }
    }
    const empty = balancerFor(name, [])
    t.equal(empty.size, 0)
    t.equal(empty.pick(context(), 0), undefined, 'an empty tier offers nothing')
    t.equal(empty.pick(context(), 1), undefined)
  })

  await t.test('a target at maxConnections or excluded by the request is never picked', async (t) => {
    const primaries = makeTargets(t, [{}, { maxConnections: 1 }, { weight: 3 }, { weight: 2 }])
    const set = balancerSet(name, primaries)
    writable(primaries[1]).inflight = 1
    set.onLoadChange(primaries[1])
    const excluded = primaries[2]
    const exclusion = { excludes: (target: Target) => target === excluded }
    for (let i = 0; i < 400; i++) {
      const target = set.pick(set.keyOf(undefined, request(`k${i}`)), exclusion)
      if (target === primaries[1] || target === excluded || target === undefined) {
        t.ok(false, `pick ${i} returned ${target?.url}`)
        return
      }
    }
    t.ok(true, '400 picks avoided the full and the excluded target')
  })

  await t.test('backups only when no primary can take the request', async (t) => {
    const [primary, backup] = makeTargets(t, [{ maxConnections: 1 }, { backup: true }])
    const set = balancerSet(name, [primary], [backup])
    t.equal(set.pick(set.keyOf(undefined, request()), undefined), primary)
    writable(primary).inflight = 1
    set.onLoadChange(primary)
    t.equal(set.pick(set.keyOf(undefined, request()), undefined), backup, 'primary full: the backup')
    t.equal(set.pick(set.keyOf(undefined, request()), { excludes: (target) => target === backup }), undefined, 'nothing left')
  })

  await t.test('through the plugin: targets taken out get nothing, backups only when all primaries are out', async (t) => {
    const ups = await startUpstreams(4)
    const app = Fastify()
    t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
    await app.register(lolly, {
      balancer: name,
      targets: [ups[0].url, { url: ups[1].url, weight: 2 }, { url: ups[2].url, down: true }, { url: ups[3].url, backup: true }]
    })
    app.get('/*', (_req, reply) => reply.from())
    const pool = poolOf(app)
    const served = async (requests: number): Promise<string[]> => {
      const names = new Set<string>()
      for (let i = 0; i < requests; i++) {
        const res = await app.inject(`/r${i}`)
        t.equal(res.statusCode, 200)
        names.add(res.body.split(' ')[0])
      }
      return [...names].sort()
    }
    const all = await served(30)
    t.ok(all.every((n) => n === 'u0' || n === 'u1'), `primaries only, never the down one or the backup (${all})`)
    pool.health.transition(pool.target(ups[0].url)!, 'disabled', 'test')
    t.same(await served(12), ['u1'], 'u0 disabled at runtime: only u1')
    pool.health.transition(pool.target(ups[1].url)!, 'unhealthy', 'test')
    t.same(await served(6), ['u3'], 'every primary out: the backup')
    pool.health.transition(pool.target(ups[2].url)!, 'healthy', 'test')
    t.same(await served(6), ['u2'], 'a primary back: the backup idles again')
  })
}
