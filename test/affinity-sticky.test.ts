import { test } from 'tap'
import Fastify from 'fastify'
import FakeTimers from '@sinonjs/fake-timers'
import lolly from '../lib/index.js'
import { closedPort, startUpstream, startUpstreams } from './helpers/upstreams.js'
import { connect, startWsTarget } from './helpers/ws-targets.js'

const SECRET = 'a secret of sixteen+ chars'

/** The `lolly=...` pair of a Set-Cookie header, as a browser sends it back; undefined when none. */
function cookieOf (setCookie: string | string[] | undefined, name = 'lolly'): string | undefined {
  const lines = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]
  return lines.find((line) => line.startsWith(`${name}=`))?.split(';')[0]
}

test('the first answer sets a signed cookie; requests that carry it stay on its target under round robin; it names no address', async (t) => {
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: ups.map((u) => u.url), affinity: { cookie: { secret: SECRET, maxAge: 3600 } } })
  app.all('/*', (_request, reply) => { reply.from() })

  const first = await app.inject('/a')
  const setCookie = first.headers['set-cookie'] as string
  t.match(setCookie, /^lolly=[\w-]{16}\.\d+\.[\w-]{43}; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/)
  for (const u of ups) t.notOk(setCookie.includes(String(u.port)), 'no port of a target in it')
  t.notOk(setCookie.includes('127.0.0.1'))
  const cookie = cookieOf(setCookie)!
  const name = first.body.split(' ')[0]
  const bodies = []
  for (let i = 0; i < 6; i++) {
    const res = await app.inject({ url: `/b${i}`, headers: { cookie: `other=1; ${cookie}; more=2` } })
    t.notOk(res.headers['set-cookie'], 'a cookie that named the target that answered is not sent again')
    bodies.push(res.body.split(' ')[0])
  }
  t.same(new Set(bodies), new Set([name]), 'six requests, one target')
  const post = await app.inject({ method: 'POST', url: '/form', payload: { a: 1 }, headers: { cookie } })
  t.equal(post.body.split(' ')[0], name, 'a request reply-from builds itself (a parsed body) stays too')
  const fresh = await app.inject({ method: 'POST', url: '/form', payload: { a: 1 } })
  t.ok(cookieOf(fresh.headers['set-cookie'] as string), 'and gets a cookie on that path too')
})

test('a cookie whose target cannot take the request is ignored and re-issued for the target that answered: disabled, or dead (failover)', async (t) => {
  const ups = await startUpstreams(2)
  const dead = `http://127.0.0.1:${await closedPort()}`
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: [dead, ...ups.map((u) => u.url)], balancer: 'first', passive: false, affinity: { cookie: { secret: SECRET } } })
  app.all('/*', (_request, reply) => { reply.from() })

  // The first answer came after a failover from the dead target: the cookie names the one that answered.
  const first = await app.inject('/x')
  t.equal(first.body, 'u0 GET /x')
  const toU0 = cookieOf(first.headers['set-cookie'] as string)!
  t.equal(app.lolly.targets[0].failures, 1)

  app.lolly.disable('default', ups[0].url)
  const moved = await app.inject({ url: '/y', headers: { cookie: toU0 } })
  t.equal(moved.body, 'u1 GET /y')
  const toU1 = cookieOf(moved.headers['set-cookie'] as string)!
  t.ok(toU1 !== undefined && toU1 !== toU0, 're-issued for the new target')
  app.lolly.enable('default', ups[0].url)
  t.equal((await app.inject({ url: '/z', headers: { cookie: toU1 } })).body, 'u1 GET /z', 'the new cookie holds even once the old target is back')

  // A session cookie (no maxAge) has no Max-Age attribute.
  t.notMatch(moved.headers['set-cookie'] as string, /Max-Age/)
})

test('forged, tampered, expired, replayed-after-removal and foreign cookies are ignored, never an error, never a target outside the pool', async (t) => {
  const ups = await startUpstreams(2)
  const other = await startUpstream('other')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all([...ups, other].map((u) => u.close())) })
  await app.register(lolly, {
    upstreams: {
      api: { targets: ups.map((u) => u.url), affinity: { cookie: { secret: SECRET, maxAge: 1 } } },
      side: { targets: [other.url], affinity: { cookie: { secret: SECRET } } }
    }
  })
  app.all('/*', { config: { upstream: 'api' } }, (_request, reply) => { reply.from() })
  app.all('/side/*', { config: { upstream: 'side' } }, (_request, reply) => { reply.from() })

  const valid = cookieOf((await app.inject('/a')).headers['set-cookie'] as string)!
  const [name, value] = valid.split('=')
  const [id, expiry, sig] = value.split('.')
  const flip = (s: string): string => (s[0] === 'A' ? 'B' : 'A') + s.slice(1)
  const bad = [
    `${name}=${flip(id)}.${expiry}.${sig}`,
    `${name}=${id}.${Number(expiry) + 1000}.${sig}`,
    `${name}=${id}.${expiry}.${flip(sig)}`,
    `${name}=${'x'.repeat(4096)}`,
    `${name}=..`,
    cookieOf((await app.inject('/side/a')).headers['set-cookie'] as string)!
  ]
  for (const cookie of bad) {
    const res = await app.inject({ url: '/b', headers: { cookie } })
    t.equal(res.statusCode, 200, `ignored: ${cookie.slice(0, 40)}`)
    t.match(res.body, /^u[01] GET \/b$/)
    t.ok(cookieOf(res.headers['set-cookie'] as string), 'and a valid one issued')
  }
  // Expired: the cookie said 1 s.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const late = await app.inject({ url: '/c', headers: { cookie: valid } })
  t.ok(cookieOf(late.headers['set-cookie'] as string), 'an expired cookie is re-issued')

  // Replayed after its target left the pool.
  const target = late.body.split(' ')[0] === 'u0' ? ups[0] : ups[1]
  const sticky = cookieOf(late.headers['set-cookie'] as string)!
  await app.lolly.removeTarget('api', target.url)
  const replayed = await app.inject({ url: '/d', headers: { cookie: sticky } })
  t.equal(replayed.statusCode, 200)
  t.not(replayed.body.split(' ')[0], target === ups[0] ? 'u0' : 'u1')
  t.ok(cookieOf(replayed.headers['set-cookie'] as string))
})

test('secrets rotate: a cookie signed with an older secret still holds, new ones are signed with the first', async (t) => {
  const ups = await startUpstreams(3)
  const old = Fastify()
  const rotated = Fastify()
  t.teardown(async () => { await old.close(); await rotated.close(); await Promise.all(ups.map((u) => u.close())) })
  await old.register(lolly, { targets: ups.map((u) => u.url), affinity: { cookie: { secret: 'the old secret, 16+' } } })
  await rotated.register(lolly, { targets: ups.map((u) => u.url), affinity: { cookie: { secret: ['the new secret, 16+', 'the old secret, 16+'] } } })
  old.all('/*', (_request, reply) => { reply.from() })
  rotated.all('/*', (_request, reply) => { reply.from() })
  await rotated.inject('/warm')
  const first = await old.inject('/a')
  const cookie = cookieOf(first.headers['set-cookie'] as string)!
  const name = first.body.split(' ')[0]
  const renewed = await rotated.inject({ url: '/b', headers: { cookie } })
  t.equal(renewed.body.split(' ')[0], name, 'the old secret still verifies')
  const fresher = cookieOf(renewed.headers['set-cookie'] as string)!
  t.ok(fresher !== undefined && fresher !== cookie, 'and the answer moves the client on to the new secret, same target')
  for (let i = 0; i < 3; i++) {
    const res = await rotated.inject({ url: '/c', headers: { cookie: fresher } })
    t.equal(res.body.split(' ')[0], name)
    t.notOk(res.headers['set-cookie'], 'signed with the first secret: nothing to renew')
  }
  const fresh = cookieOf((await rotated.inject('/c')).headers['set-cookie'] as string)!
  t.ok((await old.inject({ url: '/d', headers: { cookie: fresh } })).headers['set-cookie'], 'the old instance does not know the new secret: it issues its own')
})

test('affinity works with every balancer: a consistent-hash key does not override the cookie', async (t) => {
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: ups.map((u) => u.url), balancer: 'consistent-hash', hashKey: 'url', affinity: { cookie: { secret: SECRET } } })
  app.all('/*', (_request, reply) => { reply.from() })
  const first = await app.inject('/path-0')
  const cookie = cookieOf(first.headers['set-cookie'] as string)!
  const name = first.body.split(' ')[0]
  const seen = new Set<string>()
  for (let i = 0; i < 20; i++) seen.add((await app.inject({ url: `/path-${i}`, headers: { cookie } })).body.split(' ')[0])
  t.same([...seen], [name], 'twenty URLs the ring spreads, one target')
  const spread = new Set<string>()
  for (let i = 0; i < 20; i++) spread.add((await app.inject(`/path-${i}`)).body.split(' ')[0])
  t.ok(spread.size > 1, 'without the cookie the ring spreads them')
})

test('a route sets its own affinity (or none) over its upstream\'s', async (t) => {
  const ups = await startUpstreams(2)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: ups.map((u) => u.url), affinity: { cookie: { secret: SECRET } } })
  app.get('/own', { config: { upstream: { affinity: { cookie: { name: 'route', secret: SECRET, secure: true, sameSite: 'None' } } } } }, (_request, reply) => { reply.from() })
  app.get('/none', { config: { upstream: { affinity: false } } }, (_request, reply) => { reply.from() })
  app.get('/same', { config: { upstream: { retry: false } } }, (_request, reply) => { reply.from() })
  t.match((await app.inject('/own')).headers['set-cookie'], /^route=.*; Secure; SameSite=None$/)
  t.notOk((await app.inject('/none')).headers['set-cookie'])
  t.match((await app.inject('/same')).headers['set-cookie'], /^lolly=/)
})

test('a WebSocket handshake follows the cookie, and a new client gets one on its 101', async (t) => {
  const targets = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => startWsTarget(address)))
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(targets.map((target) => target.close())) })
  await app.register(lolly, { targets: targets.map((target) => target.url), websocket: true, affinity: { cookie: { secret: SECRET } } })
  app.get('/*', (_request, reply) => { reply.from() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const first = await connect(`ws://127.0.0.1:${port}/ws`)
  const cookie = cookieOf(first.headers['set-cookie'])!
  t.ok(cookie, 'the 101 set the cookie')
  for (let i = 0; i < 4; i++) {
    const next = await connect(`ws://127.0.0.1:${port}/ws`, undefined, { headers: { cookie } })
    t.equal(next.greeting.address, first.greeting.address)
    t.notOk(next.headers['set-cookie'])
    next.ws.close()
  }
  const plain = await fetch(`http://127.0.0.1:${port}/poll`, { headers: { cookie } })
  t.equal((await plain.text()).split(' ')[0], first.greeting.address, 'and the plain requests of the same session too')
  first.ws.close()
})

test('a cookie past half its life is renewed with the answer, for the same target', async (t) => {
  const ups = await startUpstreams(3)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.register(lolly, { targets: ups.map((u) => u.url), affinity: { cookie: { secret: SECRET, maxAge: 2 } } })
  app.all('/*', (_request, reply) => { reply.from() })
  // Date alone is faked, at a whole second: the cookie's expiry is in whole seconds, so a real clock
  // issuing it at x.9 s made its 2 s a 1.1 s, gone by the time a real 1.1 s wait was over (a CI flake).
  const clock = FakeTimers.install({ toFake: ['Date'], now: Date.UTC(2026, 0, 1) })
  t.teardown(() => clock.uninstall())
  const first = await app.inject('/a')
  const cookie = cookieOf(first.headers['set-cookie'] as string)!
  t.notOk((await app.inject({ url: '/b', headers: { cookie } })).headers['set-cookie'], 'young: kept')
  clock.tick(1500)
  const later = await app.inject({ url: '/c', headers: { cookie } })
  t.equal(later.body.split(' ')[0], first.body.split(' ')[0])
  t.ok(cookieOf(later.headers['set-cookie'] as string), 'past half of its 2 s: renewed')
})

test('a backup\'s cookie holds only while the primaries cannot take traffic: once they are back, its clients go back too', async (t) => {
  const [primary, backup] = await startUpstreams(2)
  const app = Fastify()
  t.teardown(async () => { await app.close(); await primary.close(); await backup.close() })
  await app.register(lolly, { targets: [primary.url, { url: backup.url, backup: true }], affinity: { cookie: { secret: SECRET } } })
  app.all('/*', (_request, reply) => { reply.from() })
  app.lolly.disable('default', primary.url)
  const during = await app.inject('/a')
  t.equal(during.body, 'u1 GET /a')
  const toBackup = cookieOf(during.headers['set-cookie'] as string)!
  t.notOk((await app.inject({ url: '/b', headers: { cookie: toBackup } })).headers['set-cookie'], 'sticks to the backup while it is all there is')
  app.lolly.enable('default', primary.url)
  const after = await app.inject({ url: '/c', headers: { cookie: toBackup } })
  t.equal(after.body, 'u0 GET /c', 'back on the primary')
  t.ok(cookieOf(after.headers['set-cookie'] as string), 'with a cookie saying so')
})

test('the affinity cookie goes beside the target\'s own cookies, never instead of them', async (t) => {
  const up = await startUpstream('u', (req, res) => {
    if (req.url === '/one') res.setHeader('set-cookie', 'a=1')
    if (req.url === '/two') res.setHeader('set-cookie', ['a=1', 'b=2'])
    res.end('ok')
  })
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url], affinity: { cookie: { secret: SECRET } } })
  app.all('/*', (_request, reply) => { reply.from() })
  const names = (setCookie: unknown): string[] => ([setCookie].flat() as string[]).map((line) => line.split('=')[0])
  t.same(names((await app.inject('/one')).headers['set-cookie']), ['a', 'lolly'])
  t.same(names((await app.inject('/two')).headers['set-cookie']), ['a', 'b', 'lolly'])
  t.same(names((await app.inject('/none')).headers['set-cookie']), ['lolly'])
})
