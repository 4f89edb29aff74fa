import { test } from 'tap'
import { BalancerSet } from '../lib/balancers/balancer-set.js'
import { makeTargets, spec } from './helpers/tier-targets.js'

// Failover tiers beyond primaries and backups (an SRV answer's priorities): a pick takes the first
// tier with a target that can take the request.

test('three tiers are tried in order; a load change of a target in a tier not built yet is ignored', async (t) => {
  const [a, b, c, d] = makeTargets(t, [{ tier: 0 }, { tier: 1, backup: true }, { tier: 2, backup: true }, { tier: 5, backup: true }])
  const set = new BalancerSet(spec('least-connections', 1.25))
  set.rebuild([[a], [b], [c]])
  t.equal(set.pick('', undefined), a)
  t.equal(set.pick('', { excludes: (target) => target === a }), b)
  t.equal(set.pick('', { excludes: (target) => target !== c }), c)
  t.equal(set.pick('', { excludes: () => true }), undefined)
  set.onLoadChange(d)
  set.rebuild([[a]])
  t.equal(set.pick('', { excludes: (target) => target === a }), undefined, 'tiers emptied by a rebuild hold nothing')
})
