import { createHash } from 'node:crypto'
import type http from 'node:http'
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import lolly from '../lib/index.js'
import type { LollyOptions } from '../lib/options/types.js'
import type { TargetSnapshot } from '../lib/pool/target.js'
import type { StatusView } from '../lib/status/status-view.js'
import { startUpstream, startUpstreams, type Upstream } from './helpers/upstreams.js'

const AUTH = { authorization: 'Bearer s3cret' }

async function serve (status: LollyOptions['status'], targets: LollyOptions['targets']): Promise<{ app: FastifyInstance, base: string }> {
  const app = Fastify()
  await app.register(lolly, { targets, status })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, base: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }
}

const guarded: LollyOptions['status'] = {
  async onRequest (req, reply) {
    if (req.headers.authorization !== AUTH.authorization) await reply.code(401).send({ error: 'who are you' })
  }
}

async function page (base: string): Promise<{ html: string, token: string | undefined, csp: string }> {
  const res = await request(`${base}/lolly`, { headers: AUTH })
  const html = await res.body.text()
  return { html, token: /data-token="([^"]+)"/.exec(html)?.[1], csp: res.headers['content-security-policy'] as string }
}

test('status page actions', async (t) => {
  // The first target's requests wait for release(): a request in flight keeps a drain from ending.
  const held: http.ServerResponse[] = []
  const slow = await startUpstream('slow', (_req, res) => { held.push(res) })
  const release = (): void => { for (const res of held.splice(0)) res.end('slow') }
  const ups: Upstream[] = [slow, ...await startUpstreams(2)]
  const { app, base } = await serve(guarded, [{ url: slow.url, name: 'slow-1' }, ups[1].url, ups[2].url])
  t.teardown(async () => { release(); await app.close(); await Promise.all(ups.map((u) => u.close())) })
  const { html, token, csp } = await page(base)
  t.ok(token !== undefined && token.length >= 40, 'a guarded page carries a random token')
  const own = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const post = (path: string, headers: Record<string, string> = {}): ReturnType<typeof request> =>
    request(`${base}/lolly/targets/${path}`, { method: 'POST', headers: { ...AUTH, 'x-lolly-token': token!, origin: own, 'sec-fetch-site': 'same-origin', ...headers } })
  const target = (url: string, action: string): string => `default/${action}?target=${encodeURIComponent(url)}`

  await t.test('the page has the buttons\' script, and its CSP allows it and nothing else new', async (t) => {
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1])
    t.equal(scripts.length, 4, 'the main, sources, log and actions scripts')
    const hashes = scripts.map((script) => `'sha256-${createHash('sha256').update(script).digest('base64')}'`)
    t.match(csp, `script-src ${hashes.join(' ')};`)
    t.match(csp, "connect-src 'self'")
    t.match(csp, "form-action 'none'")
    t.match(scripts[3], 'window.confirm(', 'every action asks first')
    t.match(scripts[3], "'x-lolly-token': token")
  })

  await t.test('the guard comes first, then the token, then the origin', async (t) => {
    const refused = async (res: Awaited<ReturnType<typeof request>>, status: number, message: RegExp | undefined, what: string): Promise<void> => {
      t.equal(res.statusCode, status, what)
      const body = await res.body.json() as { code?: string, message?: string }
      if (message !== undefined) t.match(body, { code: 'FST_LOLLY_STATUS_ACTION_FORBIDDEN', message }, what)
    }
    await refused(await post(`${target(ups[1].url, 'drain')}`, { authorization: 'nope' }), 401, undefined, 'no guard pass: 401 from the guard')
    const headers = { ...AUTH, origin: own }
    await refused(await request(`${base}/lolly/targets/${target(ups[1].url, 'drain')}`, { method: 'POST', headers }), 403, /x-lolly-token header is missing or wrong/, 'no token')
    await refused(await post(`${target(ups[1].url, 'drain')}`, { 'x-lolly-token': 'short' }), 403, /missing or wrong/, 'a token of another length')
    await refused(await post(`${target(ups[1].url, 'drain')}`, { 'x-lolly-token': token!.replace(/^./, (c) => c === 'A' ? 'B' : 'A') }), 403, /missing or wrong/, 'a wrong token of the same length')
    await refused(await post(`${target(ups[1].url, 'drain')}`, { 'sec-fetch-site': 'cross-site' }), 403, /Sec-Fetch-Site is cross-site/, 'another site')
    await refused(await post(`${target(ups[1].url, 'drain')}`, { origin: 'https://evil.example' }), 403, /Origin https:\/\/evil\.example is not 127\.0\.0\.1:\d+/, 'another origin')
    await refused(await post(`${target(ups[1].url, 'drain')}`, { origin: 'null' }), 403, /Origin null/, 'an opaque origin')
    // 43 characters as the token, more bytes: compared as bytes, a 403 (it threw a RangeError, a 500, before).
    await refused(await post(`${target(ups[1].url, 'drain')}`, { 'x-lolly-token': '\u00e9'.repeat(token!.length) }), 403, /missing or wrong/, 'a token of the same length in characters, not bytes')
    t.equal(app.lolly.upstreams.default.targets[1].state, 'healthy', 'nothing refused had an effect')
  })

  await t.test('drain, disable, enable: each answers the snapshot, and targets.json and the log show it', async (t) => {
    const drained = await post(`${target(ups[1].url, 'drain')}`)
    t.equal(drained.statusCode, 200)
    t.match(await drained.body.json(), { url: ups[1].url, state: 'draining' })
    t.equal(app.lolly.upstreams.default.targets[1].state, 'draining', 'the operator API sees it')
    const disabled = await post(`${target(ups[1].url, 'disable')}`, { origin: '', 'sec-fetch-site': '' })
    t.equal(disabled.statusCode, 403, 'empty Origin and Sec-Fetch-Site headers do not count as absent')
    await disabled.body.dump()
    const curl = await request(`${base}/lolly/targets/${target(ups[2].url, 'disable')}`, { method: 'POST', headers: { ...AUTH, 'x-lolly-token': token! } })
    t.equal(curl.statusCode, 200, 'a client that sends neither Origin nor Sec-Fetch-Site (curl) needs only the token')
    t.match(await curl.body.json(), { state: 'disabled' })
    const enabled = await post(`${target(ups[1].url, 'enable')}`)
    t.match(await enabled.body.json(), { url: ups[1].url, state: 'healthy' })
    const view = await (await request(`${base}/lolly/targets.json`, { headers: AUTH })).body.json() as StatusView
    t.same(view.upstreams[0].targets.map((s: TargetSnapshot) => s.state), ['healthy', 'healthy', 'disabled'])
    t.same(view.history!.map((c) => `${c.target} ${c.from}>${c.to} ${c.reason}`), [
      `${ups[1].url} healthy>draining drained at runtime`,
      `${ups[2].url} healthy>disabled disabled at runtime`,
      `${ups[1].url} draining>healthy enabled at runtime`
    ])
  })

  await t.test('a drain answers at once, before the target is idle, and enabling it first is no error', async (t) => {
    const inFlight = request(`${base}/x`)
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve))
    const drained = await post(`${target(slow.url, 'drain')}`)
    t.match(await drained.body.json(), { name: 'slow-1', state: 'draining', inflight: 1 })
    const enabled = await post(`${target(slow.url, 'enable')}`)
    t.match(await enabled.body.json(), { state: 'healthy' }, 'the interrupted wait is nobody\'s: no unhandled rejection')
    release()
    await (await inFlight).body.dump()
  })

  await t.test('a target being removed refuses a drain, as the operator API does', async (t) => {
    const inFlight = request(`${base}/x`)
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve))
    const removal = app.lolly.removeTarget('default', slow.url)
    const res = await post(`${target(slow.url, 'drain')}`)
    t.equal(res.statusCode, 404)
    t.match(await res.body.json(), { code: 'FST_LOLLY_UNKNOWN_TARGET', message: /is being removed/ })
    release()
    await (await inFlight).body.dump()
    await removal
  })

  await t.test('what names no target is 404', async (t) => {
    for (const [path, message] of [
      [`nope/drain?target=${encodeURIComponent(ups[1].url)}`, /upstream "nope" has no target/],
      // Longer than Fastify's maxParamLength (100): the route still answers (a path parameter made it a 404 of no route's).
      [`${target(`http://127.0.0.1:1/${'a'.repeat(150)}`, 'disable')}`, /has no target "http:\/\/127\.0\.0\.1:1\/a{150}"/],
      ['default/enable', /has no target ""/],
      [`${target('http://127.0.0.1:1', 'disable')}`, /upstream "default" has no target "http:\/\/127\.0\.0\.1:1"/],
      [`${target('not a url', 'enable')}`, /has no target "not a url"/],
      [`${target(ups[1].url + ':80/', 'enable')}`, /has no target/]
    ] as const) {
      const res = await post(path)
      t.equal(res.statusCode, 404, path)
      t.match(await res.body.json(), { code: 'FST_LOLLY_UNKNOWN_TARGET', message }, path)
    }
  })
})

test('without a guard, or with actions: false, the page is read-only and the action routes are not there', async (t) => {
  const ups = await startUpstreams(1)
  const open = await serve(true, [ups[0].url])
  const readOnly = await serve({ ...guarded, actions: false }, [ups[0].url])
  t.teardown(async () => { await open.app.close(); await readOnly.app.close(); await ups[0].close() })
  for (const { base } of [open, readOnly]) {
    const { html, token, csp } = await page(base)
    t.equal(token, undefined, 'no token')
    t.equal([...html.matchAll(/<script>/g)].length, 3, 'no actions script')
    t.equal(csp.split("'sha256-").length - 1, 4, 'three scripts and the style hashed')
    const res = await request(`${base}/lolly/targets/default/drain?target=${encodeURIComponent(ups[0].url)}`, { method: 'POST', headers: { ...AUTH, 'x-lolly-token': 'x' } })
    t.equal(res.statusCode, 404)
    await res.body.dump()
  }
})
