import fs from 'node:fs'
import path from 'node:path'
import { test } from 'tap'
import Fastify from 'fastify'
import { chromium } from 'playwright-core'
import lolly from '../lib/index.js'
import { startUpstream, type Upstream } from './helpers/upstreams.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts')
const DOCS_SCREENSHOT = path.join(__dirname, '..', 'docs', 'status-page.png')
// The screenshot always goes to test-artifacts/. To refresh the README's docs/status-page.png, run
// `LOLLY_SCREENSHOT_SECONDS=120 npx tap test/status-page-browser.test.ts -t 300`: the traffic runs that
// long first, so the sparklines have something to show. Plain test runs leave the docs image alone.
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

test('the page follows the stream: a target that dies turns unhealthy within a check interval, without a reload', {
  skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is not installed (apt-get install chromium); CI installs it`
}, async (t) => {
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

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  t.teardown(async () => {
    traffic.on = false
    await load
    await browser.close()
    await app.close()
    await Promise.all(ups.map((u) => u.close()))
  })
  const page = await browser.newPage({ viewport: { width: 1360, height: 760 }, deviceScaleFactor: 1 })
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

  if (SCREENSHOT_AFTER > 0) await new Promise((resolve) => setTimeout(resolve, SCREENSHOT_AFTER * 1000))
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  const screenshot = await page.screenshot({ path: path.join(ARTIFACTS, 'status-page.png') })
  if (SCREENSHOT_AFTER > 0) fs.writeFileSync(DOCS_SCREENSHOT, screenshot)
  t.ok(screenshot.length > 10_000, 'a screenshot was taken')

  t.same(consoleErrors, [], 'the page logged no errors')
})
