import { test } from 'tap'
import fc from 'fast-check'
import Fastify from 'fastify'
import lolly from '../../lib/index.js'
import { hostileValue } from '../helpers/option-arbitraries.js'

// Runtime management (app.lolly.addTarget/removeTarget/drain/enable/disable/setWeight) and a route's
// config.upstream take arguments from code that may pass anything. Any sequence of calls with any
// arguments ends in a result or one of our errors, never another exception or a hang, and leaves
// the pools consistent and closable.

const OURS = new Set(['FST_LOLLY_INVALID_OPTION', 'FST_LOLLY_UNKNOWN_TARGET', 'FST_LOLLY_DRAIN_INTERRUPTED'])
const STATES = new Set(['healthy', 'unhealthy', 'ejected', 'draining', 'disabled'])
const HANG_MS = 1000

// Privileged ports (nothing of any test listens there), so no call reaches anyone's server.
const knownUrls = ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3/base']
const url = fc.oneof(fc.constantFrom(...knownUrls, 'http://127.0.0.1:1/', 'http://127.0.0.1:4', 'HTTP://127.0.0.1:2'), hostileValue)
const upstream = fc.oneof(fc.constantFrom('default', 'other', 'missing'), hostileValue)
const targetInput = fc.oneof(
  url,
  fc.record({ url, weight: fc.oneof(fc.integer({ min: 1, max: 5 }), hostileValue), down: fc.boolean() }, { requiredKeys: ['url'] })
)
const call = fc.oneof(
  fc.tuple(fc.constant('addTarget'), upstream, targetInput),
  fc.tuple(fc.constant('removeTarget'), upstream, url),
  fc.tuple(fc.constant('drain'), upstream, url),
  fc.tuple(fc.constant('enable'), upstream, url),
  fc.tuple(fc.constant('disable'), upstream, url),
  fc.tuple(fc.constant('setWeight'), upstream, url, fc.oneof(fc.integer({ min: 1, max: 10 }), hostileValue))
)

async function settle (value: unknown): Promise<unknown> {
  if (!(value instanceof Promise)) return value
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([value, new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`did not settle within ${HANG_MS} ms`)), HANG_MS)
    })])
  } finally {
    clearTimeout(timer)
  }
}

test('any sequence of runtime-management calls with any arguments: a result or our error', async (t) => {
  let calls = 0
  let refused = 0
  await fc.assert(fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), async (sequence) => {
    const app = Fastify()
    await app.register(lolly, { upstreams: { default: { targets: knownUrls.slice(0, 2) }, other: { targets: [knownUrls[2]] } } })
    await app.ready()
    try {
      for (const [method, ...args] of sequence) {
        calls++
        try {
          await settle((app.lolly as unknown as Record<string, (...a: unknown[]) => unknown>)[method](...args))
        } catch (err) {
          refused++
          const code = (err as { code?: string }).code
          if (code === undefined || !OURS.has(code)) throw new Error(`${method}: not our error: ${(err as Error).stack}`)
        }
      }
      for (const target of app.lolly.targets) {
        if (!STATES.has(target.state)) throw new Error(`${target.url} is in state ${target.state}`)
        if (target.inflight !== 0) throw new Error(`${target.url} has ${target.inflight} in flight`)
        if (!Number.isInteger(target.weight) || target.weight < 1) throw new Error(`${target.url} has weight ${target.weight}`)
      }
    } finally {
      await settle(app.close())
    }
  }), { numRuns: 150 })
  t.ok(calls > 500, `${calls} calls made`)
  t.ok(refused > 0 && refused < calls, `some refused (${refused}), some not`)
})

test('any route config.upstream: the route is added, or refused with our error naming the route', async (t) => {
  await fc.assert(fc.asyncProperty(fc.oneof(
    fc.constantFrom<unknown>('default', 'other', 'missing', { name: 'other', balancer: 'random' }, { balancer: 'nope' }, { hashKey: 'header:' }),
    fc.record({ name: upstream, balancer: hostileValue, hashKey: hostileValue }, { requiredKeys: [] }),
    hostileValue
  ), async (value) => {
    const app = Fastify()
    await app.register(lolly, { upstreams: { default: { targets: knownUrls.slice(0, 2) }, other: { targets: [knownUrls[2]] } } })
    try {
      app.get('/r', { config: { upstream: value as never } }, (_req, reply) => reply.from())
      await app.ready()
      return true
    } catch (err) {
      const { code, message } = err as { code?: string, message: string }
      return code === 'FST_LOLLY_INVALID_OPTION' && message.includes('GET /r') && message.includes('config.upstream')
    } finally {
      await app.close()
    }
  }), { numRuns: 200 })
  t.pass('every config.upstream was accepted or refused by name')
})

// lib/route-binding.ts rendered the unknown name with JSON.stringify, which throws its own TypeError
// ("Do not know how to serialize a BigInt") instead of ours.
test('a config.upstream name that JSON cannot render is still refused with our error', async (t) => {
  const app = Fastify()
  await app.register(lolly, { targets: [knownUrls[0]] })
  t.teardown(() => app.close())
  try {
    app.get('/r', { config: { upstream: { name: 10n } as never } }, (_req, reply) => reply.from())
    await app.ready()
    t.fail('accepted')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'FST_LOLLY_INVALID_OPTION', 'our error')
    t.match((err as Error).message, /names upstream 10n, which does not exist/)
  }
})
