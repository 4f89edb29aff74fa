import { test } from 'tap'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import { DEFAULT_PASSIVE } from '../lib/options/passive-options.js'

const url = 'http://127.0.0.1:1'
const read = (options: Record<string, unknown>) => readPluginOptions({ targets: [url], ...options }).upstreams.get('default')!

test('passive health is on with the documented defaults; slowStart and panicPercent are off', async (t) => {
  const upstream = read({})
  t.same(upstream.passive, { maxFails: 5, failWindow: 10_000, ejectTime: 30_000, maxEjectTime: 300_000, maxEjectedPercent: 50, statuses: [502, 503, 504] })
  t.equal(upstream.slowStart, 0)
  t.equal(upstream.panicPercent, 0)
  t.same(read({ passive: true }).passive, DEFAULT_PASSIVE)
  t.equal(read({ passive: false }).passive, false)
})

test('passive options override the defaults one by one', async (t) => {
  t.same(read({ passive: { maxFails: 1, statuses: [500, 502, 502] } }).passive,
    { ...DEFAULT_PASSIVE, maxFails: 1, statuses: [500, 502] }, 'duplicates dropped')
  t.same(read({ passive: { ejectTime: 600_000 } }).passive, { ...DEFAULT_PASSIVE, ejectTime: 600_000, maxEjectTime: 600_000 },
    'a long ejectTime lifts the default cap with it')
  t.match(read({ slowStart: 30_000, panicPercent: 50 }), { slowStart: 30_000, panicPercent: 50 })
})

test('named upstreams inherit the top-level passive settings and may change them', async (t) => {
  const options = readPluginOptions({
    passive: { maxFails: 2 },
    slowStart: 5000,
    upstreams: {
      a: { targets: [url] },
      b: { targets: [url], passive: { ejectTime: 1000 } },
      c: { targets: [url], passive: false, slowStart: 0 }
    }
  })
  t.equal((options.upstreams.get('a')!.passive as { maxFails: number }).maxFails, 2)
  t.same(options.upstreams.get('b')!.passive, { ...DEFAULT_PASSIVE, maxFails: 2, ejectTime: 1000 })
  t.equal(options.upstreams.get('c')!.passive, false)
  t.equal(options.upstreams.get('a')!.slowStart, 5000)
  t.equal(options.upstreams.get('c')!.slowStart, 0)

  const off = readPluginOptions({ passive: false, upstreams: { a: { targets: [url], passive: true }, b: { targets: [url], passive: { maxFails: 3 } } } })
  t.same(off.upstreams.get('a')!.passive, DEFAULT_PASSIVE, 'true under a top-level false means the defaults')
  t.same(off.upstreams.get('b')!.passive, { ...DEFAULT_PASSIVE, maxFails: 3 })
})

test('bad passive, slowStart and panicPercent options name their path', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ passive: 'yes' }, /^passive must be a boolean or an object, got 'yes'/],
    [{ passive: null }, /^passive must be a boolean or an object, got null/],
    [{ passive: [] }, /^passive must be a boolean or an object/],
    [{ passive: { maxfails: 3 } }, /^passive\.maxfails is not a known option/],
    [{ passive: { maxFails: 0 } }, /^passive\.maxFails must be an integer from 1 to 1000, got 0/],
    [{ passive: { failWindow: -1 } }, /^passive\.failWindow must be/],
    [{ passive: { ejectTime: 1.5 } }, /^passive\.ejectTime must be/],
    [{ passive: { ejectTime: 10_000, maxEjectTime: 5000 } }, /^passive\.maxEjectTime must be at least ejectTime \(10000\), got 5000/],
    [{ passive: { maxEjectedPercent: 0 } }, /^passive\.maxEjectedPercent must be a number from 1 to 100, got 0/],
    [{ passive: { maxEjectedPercent: 101 } }, /^passive\.maxEjectedPercent must be/],
    [{ passive: { statuses: 502 } }, /^passive\.statuses must be an array of 5xx statuses, got 502/],
    [{ passive: { statuses: [502, 404] } }, /^passive\.statuses\[1\] must be a 5xx status \(500 to 599; 4xx are the client's doing and never count\), got 404/],
    [{ passive: { statuses: ['503'] } }, /^passive\.statuses\[0\] must be a 5xx status/],
    [{ passive: { statuses: [600] } }, /^passive\.statuses\[0\] must be a 5xx status/],
    [{ slowStart: -5 }, /^slowStart must be an integer >= 0, got -5/],
    [{ panicPercent: 150 }, /^panicPercent must be a number from 0 to 100, got 150/],
    [{ panicPercent: '50' }, /^panicPercent must be a number from 0 to 100/]
  ]
  for (const [options, message] of cases) {
    t.throws(() => read(options), { code: 'FST_LOLLY_INVALID_OPTION', message }, JSON.stringify(options))
  }
  t.throws(() => readPluginOptions({ upstreams: { api: { targets: [url], passive: { maxFails: -1 } } } }),
    { message: /^upstreams\.api\.passive\.maxFails must be/ })
})
