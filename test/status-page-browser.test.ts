import fs from 'node:fs'
import path from 'node:path'
import { teardown, test } from 'tap'
import Fastify from 'fastify'
import { chromium, type Browser } from 'playwright-core'
import lolly from '../lib/index.js'
import { testProvider } from './helpers/target-provider.js'
import { startUpstream, type Upstream } from './helpers/upstreams.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts')
const DOCS_SCREENSHOT = path.join(__dirname, '..', 'docs', 'status-page.png')
// The screenshot (of the second test's page) always goes to test-artifacts/. To refresh the README's
// docs/status-page.png, run `LOLLY_SCREENSHOT_SECONDS=120 npx tap test/status-page-browser.test.ts -t 300`:
// the traffic runs that long first, so the sparklines have something to show. Plain test runs leave the docs image alone.
const SCREENSHOT_AFTER = Number(process.env.LOLLY_SCREENSHOT_SECONDS ?? 0)
const CHECK_INTERVAL = 500

// The few browser globals the page functions below use (this project compiles without the DOM lib).
declare const document: { querySelector (selector: string): { textContent: string | null } | null }
declare const window: { mark?: number }

function delayed (ms: number, status = 200) {
  return (_req: unknown, res: { statusCode: number, end: (body: string) => void }) => {
    setTimeout(() => { res.statusCode = status; res.end('ok') }, ms)
  }
}

const SKIP = !fs.existsSync(CHROMIUM) && `${CHROMIUM} is not installed (apt-get install chromium); CI installs it`
// One browser for the file: launching it is most of a test's time.
let launched: Promise<Browser> | undefined
function browserOf (): Promise<Browser> {
  if (launched === undefined) {
    launched = chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    teardown(async () => { await (await launched!).close() })
  }
  return launched
}

test('the page follows the stream: a target that dies turns unhealthy within a check interval, without a reload', { skip: SKIP }, async (t) => {
  let flaky = 0
  const ups: Upstream[] = [
    await startUpstream('a'),
    await startUpstream('b', delayed(25)),
    // Fails a quarter of its requests: passive health ejects it (its pool has no active checks to end that early).
    await startUpstream('c', (_req, res) => { res.statusCode = ++flaky % 4 === 0 ? 503 : 200; res.end('c') }),
    await startUpstream('d'),
    await startUpstream('e'),
    await startUpstream('f')
  ]
  const [a, b, c, d, e, f] = ups
  const app = Fastify()
  await app.register(lolly, {
    upstreams: {
      api: {
        targets: [a.url, { url: b.url, weight: 2 }, { url: d.url, backup: true }],
        healthCheck: { interval: CHECK_INTERVAL, timeout: 200, unhealthyThreshold: 1 },
        retry: false
      },
      assets: { targets: [e.url, c.url, { url: f.url, down: true }], balancer: 'least-connections', retry: false }
    },
    status: true
  })
  app.get('/assets/*', { config: { upstream: 'assets' } }, (_req, reply) => reply.from())
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  // Steady traffic so the rates, latencies and sparklines have something to show.
  const traffic = { on: true }
  const load = (async () => {
    for (let i = 0; traffic.on; i++) {
      await Promise.all([app.inject('/api/items'), app.inject(i % 2 === 0 ? '/assets/logo.png' : '/x')])
      await new Promise((resolve) => setTimeout(resolve, 15))
    }
  })()

  const browser = await browserOf()
  const page = await browser.newPage({ viewport: { width: 1360, height: 760 }, deviceScaleFactor: 1 })
  t.teardown(async () => {
    traffic.on = false
    await load
    await page.close()
    await app.close()
    await Promise.all(ups.map((u) => u.close()))
  })
  const consoleErrors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
  page.on('pageerror', (err) => consoleErrors.push(err.message))

  const response = await page.goto(`${base}/lolly`)
  t.equal(response?.status(), 200)
  const row = (target: string, state: string): string => `tr[data-target="${target}"][data-state="${state}"]`
  await page.waitForSelector(row(b.url, 'healthy'), { timeout: 5000 })
  await page.waitForSelector('#conn.live', { timeout: 5000 })
  t.equal(await page.locator(row(f.url, 'disabled')).count(), 1, 'a down target shows as disabled')
  t.equal(await page.locator('section.pool h2 .pool-name').allTextContents().then((names) => names.join(',')), 'api,assets')
  // Marks this document: if the page reloaded, the mark would be gone.
  await page.evaluate(() => { window.mark = 42 })
  await page.waitForFunction((url) => {
    const cell = document.querySelector(`tr[data-target="${url}"] td.probe`)
    return cell !== null && cell.textContent!.startsWith('passed 200')
  }, b.url, { timeout: 3000 })

  const killedAt = Date.now()
  await b.close()
  await page.waitForSelector(row(b.url, 'unhealthy'), { timeout: CHECK_INTERVAL * 2 + 500 })
  const tookMs = Date.now() - killedAt
  t.ok(tookMs < CHECK_INTERVAL * 1.05 + 200 + 300, `unhealthy on the page ${tookMs} ms after the kill (interval ${CHECK_INTERVAL} ms, jitter 10 %, probe timeout 200 ms)`)
  t.equal(await page.evaluate(() => window.mark), 42, 'no reload')
  t.match(await page.locator(`tr[data-target="${b.url}"] td.state`).textContent(), 'unhealthy')
  // Traffic may have had passive health eject it a moment before the probe failed: either way it ends
  // unhealthy. The failing probe may be a new one refused (ECONNREFUSED), the one the kill cut off
  // (UND_ERR_SOCKET), or, on a loaded machine, one that ran out of time: whichever, the log names it.
  const logged = new RegExp(`api ${b.url}(healthy|ejected) → unhealthyactive check: [A-Za-z_]+ \\(1 failure in a row\\)`)
  const log = await page.locator('#log li').allTextContents()
  t.ok(log.some((line) => logged.test(line)), 'the change is in the log', { log })
  await page.waitForFunction((url) => {
    const cell = document.querySelector(`tr[data-target="${url}"] td.probe`)
    return cell !== null && cell.textContent!.startsWith('failed ECONNREFUSED')
  }, b.url, { timeout: 3000 })
  await page.waitForFunction(() => document.querySelector('td.rps')?.textContent !== '\u2014', undefined, { timeout: 3000 })

  t.same(consoleErrors, [], 'the page logged no errors')
})

test('a guarded page acts: drain asks for confirmation, then the row shows draining; the changes from before it opened are in its log', { skip: SKIP }, async (t) => {
  let served = 0
  const ups: Upstream[] = [
    await startUpstream('api-1'),
    await startUpstream('api-2', delayed(20)),
    await startUpstream('api-3'),
    await startUpstream('cdn-1'),
    // Answers some 404s and 503s: passive health ejects it before the page opens.
    await startUpstream('cdn-2', (_req, res) => { served++; res.statusCode = served % 3 === 0 ? 503 : served % 7 === 0 ? 404 : 200; res.end('cdn') }),
    await startUpstream('cdn-3'),
    await startUpstream('search-a', delayed(8)),
    await startUpstream('search-b', delayed(12))
  ]
  const provider = testProvider([{ url: ups[6].url, name: 'search-a' }, { url: ups[7].url, name: 'search-b' }])
  const app = Fastify()
  await app.register(lolly, {
    upstreams: {
      api: {
        targets: [{ url: ups[0].url, name: 'api-1' }, { url: ups[1].url, name: 'api-2', weight: 2 }, { url: ups[2].url, name: 'api-3', backup: true }],
        healthCheck: { interval: 1000, timeout: 200 },
        retry: false
      },
      assets: {
        targets: [{ url: ups[3].url, name: 'cdn-1' }, { url: ups[4].url, name: 'cdn-2' }, { url: ups[5].url, name: 'cdn-3', down: true }],
        balancer: 'least-connections',
        retry: false
      },
      search: { targets: [{ discover: provider.discover, name: 'registry' }], balancer: 'p2c', websocket: true }
    },
    status: {
      async onRequest (request, reply) {
        if (request.headers.authorization !== 'Bearer s3cret') await reply.code(401).send({ error: 'who are you' })
      }
    }
  })
  app.get('/assets/*', { config: { upstream: 'assets' } }, (_req, reply) => reply.from())
  app.get('/search/*', { config: { upstream: 'search' } }, (_req, reply) => reply.from())
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const traffic = { on: true }
  const load = (async () => {
    for (let i = 0; traffic.on; i++) {
      await Promise.all([app.inject(i % 9 === 0 ? '/api/missing' : '/api/items'), app.inject('/assets/logo.png'), app.inject(i % 3 === 0 ? '/search/q' : '/api/x')])
      await new Promise((resolve) => setTimeout(resolve, 15))
    }
  })()
  const page = await (await browserOf()).newPage({ viewport: { width: 1760, height: 900 }, deviceScaleFactor: 1 })
  t.teardown(async () => {
    traffic.on = false
    await load
    await page.close()
    await app.close()
    await Promise.all(ups.map((u) => u.close()))
  })
  const consoleErrors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
  page.on('pageerror', (err) => consoleErrors.push(err.message))
  await page.setExtraHTTPHeaders({ authorization: 'Bearer s3cret' })

  const ejected = new Promise<void>((resolve) => app.lolly.on('state', (change) => { if (change.name === 'cdn-2' && change.to === 'ejected') resolve() }))
  await ejected
  t.equal((await page.goto(`${base}/lolly`))?.status(), 200)
  await page.waitForSelector('#conn.live', { timeout: 5000 })
  const log = await page.locator('#log li').allTextContents()
  t.ok(log.some((line) => /assets cdn-2healthy → ejectedpassive:/.test(line)), 'the ejection from before the page opened is in its log', { log })
  t.equal(await page.locator('tr[data-name="search-b"] .tag').textContent(), 'registry', 'a discovered target is tagged with its source')
  t.match(await page.locator('p.source[data-source="registry"]').textContent(), /discover · 2 targets · answered/)
  t.match(await page.locator('section[data-upstream="search"] .ws').textContent(), /^WebSocket: 0 open · 0 opened · 0 handshakes failed$/, 'a tunnelling upstream shows its tunnels')
  t.equal(await page.locator('section[data-upstream="api"] .ws').isHidden(), true, 'one that does not tunnel, does not')

  // Dismissed: nothing happens.
  const dialogs: string[] = []
  page.once('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.dismiss().catch(() => {}) })
  await page.click('tr[data-name="api-1"] button[data-action="disable"]')
  t.equal(app.lolly.upstreams.api.targets[0].state, 'healthy', 'a dismissed confirmation does nothing')

  page.once('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.accept().catch(() => {}) })
  await page.click('tr[data-name="api-2"] button[data-action="drain"]')
  await page.waitForSelector('tr[data-name="api-2"][data-state="draining"]', { timeout: 3000 })
  t.match(dialogs, [/^Disable api-1 \(http:\/\/127\.0\.0\.1:\d+\) of upstream api\?/, /^Drain api-2 \(http:\/\/127\.0\.0\.1:\d+\) of upstream api\? It takes no new requests/])
  t.equal(app.lolly.upstreams.api.targets[1].state, 'draining', 'the target is draining')
  await page.waitForSelector('tr[data-name="api-2"] button[data-action="enable"]:not([disabled])', { timeout: 3000 })
  t.match(await page.locator('#notice').textContent(), /api-2 .* of upstream api: draining/)
  t.match((await page.locator('#log li').first().textContent()) ?? '', /api api-2healthy → drainingdrained at runtime/)
  await page.waitForFunction(() => document.querySelector('section[data-upstream="assets"] tr.totals td.r5xx')?.textContent !== '0', undefined, { timeout: 3000 })

  if (SCREENSHOT_AFTER > 0) await new Promise((resolve) => setTimeout(resolve, SCREENSHOT_AFTER * 1000))
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  const screenshot = await page.screenshot({ path: path.join(ARTIFACTS, 'status-page.png'), fullPage: true })
  if (SCREENSHOT_AFTER > 0) fs.writeFileSync(DOCS_SCREENSHOT, screenshot)
  t.ok(screenshot.length > 10_000, 'a screenshot was taken')
  t.same(consoleErrors, [], 'the page logged no errors')
})
