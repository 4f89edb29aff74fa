import { test } from 'tap'
import Fastify from 'fastify'
import lolly from '../lib/index.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import { DEFAULT_RETRY, type NormalizedRetry } from '../lib/options/retry-options.js'
import { startUpstream } from './helpers/upstreams.js'

// `retry` of the plugin, of a named upstream and of a route: validated once, into one normalised form.

function retryOf (options: Record<string, unknown>, upstream = 'default'): NormalizedRetry {
  return readPluginOptions({ targets: ['http://a:1'], ...options }).upstreams.get(upstream)!.retry
}

function errorOf (options: Record<string, unknown>): Error & { code?: string } {
  try {
    readPluginOptions(options)
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('no error')
}

test('retry options normalise with inheritance from the top level to named upstreams', async (t) => {
  t.same(retryOf({}), DEFAULT_RETRY)
  t.equal(retryOf({ retry: false }).attempts, 0)
  t.equal(retryOf({ retry: true }), DEFAULT_RETRY)
  const custom = retryOf({
    retry: {
      attempts: 1,
      on: ['connect-error', 'status'],
      statuses: [500, 503],
      nonIdempotent: true,
      sameTarget: true,
      timeout: 2000,
      budget: { percent: 50 },
      backoff: 25,
      maxRetryAfter: 0
    }
  })
  t.same({ ...custom, statuses: [...custom.statuses] }, {
    attempts: 1,
    onConnectError: true,
    onReset: false,
    onTimeout: false,
    onTargetDown: false,
    statuses: [500, 503],
    nonIdempotent: true,
    sameTarget: true,
    timeout: 2000,
    budget: { ratio: 0.5, minConcurrency: 3 },
    backoff: 25,
    maxRetryAfter: 0
  })

  const named = (top: unknown, own: unknown) => readPluginOptions({
    retry: top, upstreams: { api: { targets: ['http://a:1'], ...(own === undefined ? {} : { retry: own }) } }
  }).upstreams.get('api')!.retry
  t.equal(named({ attempts: 4 }, undefined).attempts, 4, 'a named upstream inherits the top-level retry')
  t.equal(named(false, true).attempts, 2, 'true after an inherited false is the default attempts')
  t.equal(named({ attempts: 4 }, true).attempts, 4, 'true keeps an inherited policy')
  const noStatus = named({ on: ['reset'] }, { attempts: 1 })
  t.same([noStatus.onReset, noStatus.onConnectError, noStatus.statuses.size], [true, false, 0], "an inherited `on` without 'status' stays without it")
  const statusAgain = named({ on: ['reset'] }, { on: ['status'] })
  t.same([...statusAgain.statuses], [502, 503, 504], "'status' added back gets the default statuses")
  const inheritedOn = named({ on: ['timeout', 'status'], statuses: [429] }, { attempts: 3 })
  t.same([inheritedOn.onTimeout, inheritedOn.onReset, [...inheritedOn.statuses]], [true, false, [429]])
  t.equal(named({ budget: false }, { budget: { minConcurrency: 1 } }).budget!.ratio, 0.2, 'a budget after none starts from the defaults')
  t.equal(named({ budget: false }, {}).budget, null)
  t.same(named({ budget: false }, { budget: true }).budget, { ratio: 0.2, minConcurrency: 3 }, 'true after none is the default budget, as for every other section')
  t.equal(named(false, { statuses: [500] }).attempts, 2, 'an object after an inherited false turns failover on, as for every other section')
})

test('bad retry options fail with the exact path and value', async (t) => {
  const cases: Array<[unknown, string | RegExp]> = [
    ['always', "retry must be a boolean or an object, got 'always'"],
    [{ tries: 2 }, /^retry\.tries is not a known option/],
    [{ attempts: -1 }, 'retry.attempts must be an integer from 0 to 100, got -1'],
    [{ on: [] }, /^retry\.on must be a non-empty array of 'connect-error', 'reset', 'timeout', 'status', 'target-down'/],
    [{ on: 'reset' }, /^retry\.on must be a non-empty array/],
    [{ on: ['reset', 'http_503'] }, "retry.on[1] must be one of 'connect-error', 'reset', 'timeout', 'status', 'target-down', got 'http_503'"],
    [{ on: ['reset'], statuses: [503] }, /^retry\.statuses must be unset when `on` has no 'status'/],
    [{ statuses: 503 }, 'retry.statuses must be a non-empty array of statuses from 400 to 599, got 503'],
    [{ statuses: [] }, /^retry\.statuses must be a non-empty array/],
    [{ statuses: [503, 302] }, 'retry.statuses[1] must be a status from 400 to 599, got 302'],
    [{ statuses: [600] }, 'retry.statuses[0] must be a status from 400 to 599, got 600'],
    [{ statuses: ['503'] }, "retry.statuses[0] must be a status from 400 to 599, got '503'"],
    [{ nonIdempotent: 'yes' }, "retry.nonIdempotent must be a boolean, got 'yes'"],
    [{ timeout: -5 }, 'retry.timeout must be an integer >= 0, got -5'],
    [{ budget: 'yes' }, "retry.budget must be a boolean or an object, got 'yes'"],
    [{ budget: { ratio: 0.2 } }, /^retry\.budget\.ratio is not a known option/],
    [{ budget: { percent: 120 } }, 'retry.budget.percent must be a number from 0 to 100, got 120'],
    [{ budget: { minConcurrency: 1.5 } }, /^retry\.budget\.minConcurrency must be an integer/],
    [{ backoff: 'fast' }, /^retry\.backoff must be an integer >= 0/],
    [{ maxRetryAfter: -1 }, /^retry\.maxRetryAfter must be an integer >= 0/]
  ]
  for (const [retry, message] of cases) {
    const err = errorOf({ targets: ['http://a:1'], retry })
    t.equal(err.code, 'FST_LOLLY_INVALID_OPTION')
    if (typeof message === 'string') t.equal(err.message, message)
    else t.match(err.message, message)
  }
  const named = errorOf({ upstreams: { api: { targets: ['http://a:1'], retry: { attempts: 'two' } } } })
  t.equal(named.message, "upstreams.api.retry.attempts must be an integer from 0 to 100, got 'two'")
})

test('routes override retry and the per-try timeouts, validated when the route is added', async (t) => {
  const up = await startUpstream('up')
  t.teardown(() => up.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: [up.url] })
  t.throws(() => app.get('/a', { config: { upstream: { retry: { attempts: 'x' } } } } as never, async () => 'x'),
    { message: "route GET /a: config.upstream.retry.attempts must be an integer from 0 to 100, got 'x'" })
  t.throws(() => app.get('/b', { config: { upstream: { responseTimeout: 0 } } }, async () => 'x'),
    { message: 'route GET /b: config.upstream.responseTimeout must be a positive integer, got 0' })
  t.throws(() => app.get('/c', { config: { upstream: { bodyTimeout: -1 } } }, async () => 'x'),
    { message: 'route GET /c: config.upstream.bodyTimeout must be a positive integer, got -1' })
  t.throws(() => app.get('/d', { config: { upstream: { connectTimeout: 100 } } } as never, async () => 'x'),
    { message: /^route GET \/d: config\.upstream\.connectTimeout is not a known option/ })
  app.get('/ok', { config: { upstream: { bodyTimeout: 500, responseTimeout: 500, retry: false } } }, (_req, reply) => reply.from())
  t.equal((await app.inject('/ok')).body, 'up GET /ok')
})
