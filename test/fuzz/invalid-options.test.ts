import { test } from 'tap'
import fc from 'fast-check'
import Fastify from 'fastify'
import { inspect } from 'node:util'
import lolly from '../../lib/index.js'
import { formatPath, fullOptions, hostileValue, optionPaths, withValue, type OptionPath } from '../helpers/option-arbitraries.js'

// Every option, replaced by anything at all: registering either works (and closes cleanly) or fails
// with our FST_LOLLY_INVALID_OPTION naming where the bad value is. No other error (a TypeError from
// reading a property of a number, a RangeError from a timer), no hang, no crash.

const HANG_MS = 2000

type Outcome = { ok: true } | { ok: false, error: Error & { code?: string } }

async function register (options: unknown): Promise<Outcome> {
  const app = Fastify()
  let timer: NodeJS.Timeout | undefined
  try {
    const registering = app.register(lolly, options as never).then(() => app.ready())
    await Promise.race([registering, new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`register did not settle within ${HANG_MS} ms`)), HANG_MS)
    })])
    return { ok: true }
  } catch (error) {
    return { ok: false, error: error as Error }
  } finally {
    clearTimeout(timer)
    await app.close().catch(() => {})
  }
}

function isOurs (error: Error & { code?: string }): boolean {
  return error instanceof TypeError && error.code === 'FST_LOLLY_INVALID_OPTION'
}

/** The message names the option: its full path, or its parent's path and its own key (cross-field rules). */
function names (message: string, path: OptionPath): boolean {
  const full = formatPath(path)
  if (message.includes(full)) return true
  const parent = formatPath(path.slice(0, -1))
  const leaf = path[path.length - 1]
  return (parent === '' || message.includes(parent)) && message.includes(String(leaf))
}

test('the full configuration the mutations start from is valid', async (t) => {
  const outcome = await register(fullOptions())
  t.same(outcome, { ok: true })
})

test('any option replaced by any value: our error naming its path, or a clean register and close', async (t) => {
  const base = fullOptions()
  const paths = optionPaths(base)
  let refused = 0
  await fc.assert(fc.asyncProperty(fc.constantFrom(...paths), hostileValue, async (path, value) => {
    const outcome = await register(withValue(base, path, value))
    if (outcome.ok) return true
    refused++
    const { error } = outcome
    if (!isOurs(error)) throw new Error(`${formatPath(path)} = ${String(value)}: not our error: ${error.stack}`)
    if (!names(error.message, path)) throw new Error(`${formatPath(path)}: the message does not name it: ${error.message}`)
    return true
  }), { numRuns: 300 })
  t.ok(refused > 100, `most hostile values were refused (${refused} of 300)`)
})

test('an unknown key anywhere is refused, naming it', async (t) => {
  const base = fullOptions()
  const objects = [[] as OptionPath, ...optionPaths(base).filter((path) => {
    let node: unknown = base
    for (const part of path) node = (node as Record<string | number, unknown>)[part]
    return node !== null && typeof node === 'object' && !Array.isArray(node) && !path.includes('headers')
  })]
  await fc.assert(fc.asyncProperty(fc.constantFrom(...objects), fc.constantFrom('helthCheck', 'maxfails', 'Interval', 'x', 'constructor'), async (path, key) => {
    const options = path.length === 0 ? { ...base, [key]: 1 } : withValue(base, [...path, key], 1)
    const outcome = await register(options)
    if (outcome.ok) throw new Error(`${formatPath([...path, key])} was accepted`)
    return isOurs(outcome.error) && outcome.error.message.includes(formatPath([...path, key]))
  }), { numRuns: 100 })
  t.pass('every unknown key was refused by name')
})

test('hostile shapes at the top level are refused with our error', async (t) => {
  const shapes: unknown[] = [
    1, 'targets', true, [], [1], () => {}, Symbol('s'), 10n, new Map(), Object.create({ targets: ['http://127.0.0.1:1'] }),
    JSON.parse('{"__proto__":{"targets":["http://127.0.0.1:1"]}}'),
    { targets: 'http://127.0.0.1:1' },
    { targets: [] },
    { targets: [{}] },
    { targets: ['http://127.0.0.1:1', 'http://127.0.0.1:1/'] },
    { upstreams: {} },
    { upstreams: { 'a b': { targets: ['http://127.0.0.1:1'] } } },
    { upstreams: { ['x'.repeat(65)]: { targets: ['http://127.0.0.1:1'] } } },
    { upstreams: { a: { targets: ['http://127.0.0.1:1'] } }, defaultUpstream: 'b' },
    { upstreams: { a: { targets: ['http://127.0.0.1:1'], xForwarded: true } } },
    { targets: ['http://127.0.0.1:1'], upstreams: { a: { targets: ['http://127.0.0.1:2'] } } },
    { targets: ['http://127.0.0.1:1'], healthCheck: { method: 'HEAD', expect: { body: 'ok' } } },
    { targets: ['http://127.0.0.1:1'], healthCheck: { interval: 100, timeout: 100 } },
    { targets: ['http://127.0.0.1:1'], healthCheck: { headers: { 'X-A': '1', 'x-a': '2' } } },
    { targets: ['http://127.0.0.1:1'], healthCheck: { headers: { connection: 'close' } } },
    { targets: ['http://127.0.0.1:1'], passive: { ejectTime: 1000, maxEjectTime: 10 } },
    { targets: ['http://127.0.0.1:1'], balancer: 'ip-hash', hashKey: 'url' },
    { targets: ['http://127.0.0.1:1'], retry: { on: ['connect-error'], statuses: [502] } }
  ]
  for (const shape of shapes) {
    const outcome = await register(shape)
    t.notOk(outcome.ok, `${inspect(shape, { breakLength: Infinity })} is refused`)
    if (!outcome.ok) t.ok(isOurs(outcome.error), `with FST_LOLLY_INVALID_OPTION: ${outcome.error.message}`)
  }
  t.equal(({} as { targets?: unknown }).targets, undefined, 'nothing was polluted')
  t.equal(({} as { polluted?: unknown }).polluted, undefined)
})
