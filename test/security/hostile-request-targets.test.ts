import { test, type Test } from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { startGateway } from '../helpers/gateway.js'
import { rawExchange, rawGet } from '../helpers/raw-exchange.js'
import { startUpstream, type Upstream } from '../helpers/upstreams.js'

// A client chooses the path, never the host: whatever the request target, the request goes to a pool
// target (under its base path) or is refused with a 4xx; it never reaches a server outside the pool,
// never costs a target its health, and never answers 500 or hangs. test/security-request-target
// covers the core cases against one target; this runs a wider corpus, a user route that builds its
// source from the path, and generated targets, against two targets, one of them with a base path.

async function setUp (t: Test) {
  const outside = await startUpstream('outside')
  const based = await startUpstream('based')
  const plain = await startUpstream('plain')
  const gateway = await startGateway({ targets: [`${based.url}/base`, plain.url] }, (app) => {
    app.all('/*', (_req, reply) => reply.from())
    // The pattern reply-from's advisories were about: a source built from what the client sent.
    app.get('/src/*', (req, reply) => reply.from('/' + (req.params as Record<string, string>)['*']))
  })
  t.teardown(async () => {
    await gateway.app.close()
    await Promise.all([outside.close(), based.close(), plain.close()])
  })
  return { outside, based, plain, gateway }
}

function assertContained (t: Test, outside: Upstream, based: Upstream, app: FastifyInstance) {
  t.equal(outside.hits.length, 0, 'the outside server was never reached')
  for (const hit of based.hits) {
    t.ok(hit.url.startsWith('/base/') || hit.url === '/base', `${hit.url} stays under the base path`)
    t.notOk(/(^|\/)\.\.(\/|$)/.test(decodeLoosely(hit.url.split('?')[0])), `${hit.url} has no dot segment once decoded`)
  }
  for (const target of app.lolly.targets) {
    t.equal(target.state, 'healthy', `${target.url} is still healthy`)
    t.equal(target.failures, 0, `${target.url} was charged no failure`)
    t.equal(target.inflight, 0, `${target.url} has nothing in flight`)
  }
}

/** What a target would see after decoding once (a server that decodes %2f before routing). */
function decodeLoosely (path: string): string {
  try { return decodeURIComponent(path) } catch { return path }
}

test('a corpus of hostile request targets is refused or stays inside the pool', async (t) => {
  const { outside, based, gateway } = await setUp(t)
  const o = `127.0.0.1:${outside.port}`
  const refused = (s: number) => s >= 400 && s < 500
  const passes = (s: number) => s === 200 || s === 404
  const either = (s: number) => refused(s) || passes(s)
  const cases: Array<[string, (status: number) => boolean]> = [
    [`http://${o}/x`, refused],
    [`HTTP://${o}/x`, refused],
    ['http://evil.invalid/x', refused],
    [`https://${o}/x`, refused],
    [`//${o}/x`, either],
    [`///${o}/x`, either],
    [`/\\${o}/x`, either],
    [`/%5c%5c${o}/x`, either],
    [`/%5C${o}%5Cx`, either],
    [`/@${o}/x`, either],
    [`/x@${o}`, either],
    ['/..%2f..%2fetc/passwd', refused],
    ['/..%2F..%2Fetc/passwd', refused],
    ['/%2e%2e/%2e%2e/x', refused],
    ['/%2E%2E/x', refused],
    ['/.%2e/x', refused],
    ['/%2e./x', refused],
    ['/a/..%5c..%5cx', either],
    ['/a/%252e%252e/x', passes],
    ['/a/%25252e%25252e%25252fx', passes],
    ['/a/b/../../../x', refused],
    ['/a/./b', either],
    ['/%zz', refused],
    ['/%', refused],
    ['/%e0%a4%a', refused],
    ['/%c0%ae%c0%ae/x', refused],
    ['/%ff', refused],
    ['/%00', either],
    ['/x%0d%0aX-Injected:%201', either],
    [`/x?next=http://${o}/`, passes],
    ['/x#fragment', either],
    ['*', either],
    [o, refused],
    [`/src/%2F%2F${o}%2Fx`, either],
    [`/src/http:%2F%2F${o}%2Fx`, either],
    ['/src/..%2F..%2Fx', refused],
    ['/src/%2e%2e%2fx', refused],
    [`/src/%5c%5c${o}`, either]
  ]
  for (const [target, expected] of cases) {
    const res = await rawExchange(gateway.port, rawGet(target))
    t.ok(res.closed, `${target}: answered and closed, no hang`)
    t.equal(res.statuses.length, 1, `${target}: exactly one response`)
    t.ok(expected(res.statuses[0]), `${target}: answered ${res.statuses[0]}`)
    t.notOk(/\r\nx-injected:/i.test(res.text.split('\r\n\r\n')[0]), `${target}: no header injected into the response`)
  }
  assertContained(t, outside, based, gateway.app)
  for (const hit of based.hits) t.equal(hit.headers['x-injected'], undefined, 'nothing injected into the proxied request')
})

test('generated request targets built from hostile fragments never escape, never 500, never hang', async (t) => {
  const { outside, based, plain, gateway } = await setUp(t)
  const o = `127.0.0.1:${outside.port}`
  const fragment = fc.constantFrom(
    '/', '//', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '\\', '%25', '%252e', '%', '%zz', '%c0%ae', '%00',
    '%0d%0a', '@', ':', o, 'http:', 'a', 'src', '?', '#', ';', '%3f', '~', '%ff'
  )
  let maxStatus = 0
  await fc.assert(fc.asyncProperty(fc.array(fragment, { minLength: 1, maxLength: 8 }), async (parts) => {
    const target = '/' + parts.join('')
    const res = await rawExchange(gateway.port, rawGet(target))
    maxStatus = Math.max(maxStatus, res.statuses[0] ?? 999)
    return res.closed && res.statuses.length === 1 && res.statuses[0] < 500 && outside.hits.length === 0
  }), { numRuns: 150 })
  t.ok(maxStatus < 500, 'no generated target answered 5xx')
  t.ok(based.hits.length + plain.hits.length > 0, 'some generated targets were proxied (the property is not vacuous)')
  assertContained(t, outside, based, gateway.app)
})

// reply-from decodes the whole source, fragment included, with decodeURIComponent; the router ignores
// the fragment, so `/x#%zz` reaches reply.from, whose URIError used to surface as a 500.
test('a malformed percent-encoding in the fragment answers 400, not 500', async (t) => {
  const { outside, based, gateway } = await setUp(t)
  for (const target of ['/x#%zz', '/#%zz/', '/x#a%', '/x#%c0%ae']) {
    const res = await rawExchange(gateway.port, rawGet(target))
    t.ok(res.closed, `${target}: answered and closed`)
    t.equal(res.statuses[0], 400, `${target}: refused with 400`)
  }
  assertContained(t, outside, based, gateway.app)
})
