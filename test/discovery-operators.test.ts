import fs from 'node:fs'
import { test } from 'tap'
import Fastify from 'fastify'
import { chromium } from 'playwright-core'
import { Registry } from 'prom-client'
import lolly from '../lib/index.js'
import { parseSamples, sampleValue } from './helpers/prometheus-text.js'
import { settle, testProvider } from './helpers/target-provider.js'
import { startUpstreams } from './helpers/upstreams.js'

// What operators see of discovery: `app.lolly.sources`, the status JSON and page, and metrics.

const CHROMIUM = '/usr/bin/chromium'
declare const document: { querySelector (selector: string): { textContent: string | null } | null }

test('sources show in the status JSON and in metrics: lookups by result, targets listed', async (t) => {
  const ups = await startUpstreams(2)
  const provider = testProvider([ups[0].url, ups[1].url])
  const registry = new Registry()
  const app = Fastify()
  await app.register(lolly, {
    upstreams: {
      api: { targets: [{ discover: provider.discover, name: 'registry' }] },
      plain: { targets: ['http://127.0.0.1:1'] }
    },
    status: true,
    metrics: { registry }
  })
  t.teardown(async () => { await app.close(); await Promise.all(ups.map((u) => u.close())) })
  await app.ready()
  await provider.yieldSet([])
  await provider.yieldSet([{ url: ups[1].url }, 42])

  const view = (await app.inject('/lolly/targets.json')).json()
  t.match(view.sources, [{ upstream: 'api', name: 'registry', type: 'discover', targets: 0, lookups: { ok: 1, empty: 1, failed: 1 }, lastError: { message: 'registry[1] must be a URL string or an object with a url, got 42' } }])
  t.match(view.upstreams[0].targets, [{ source: 'registry', state: 'draining' }, { source: 'registry', state: 'draining' }])

  const samples = parseSamples(await registry.metrics())
  const lookups = (result: string): number | undefined => sampleValue(samples, 'lolly_discovery_lookups_total', { upstream: 'api', source: 'registry', result })
  t.same([lookups('ok'), lookups('empty'), lookups('failed')], [1, 1, 1])
  t.equal(sampleValue(samples, 'lolly_discovery_targets', { upstream: 'api', source: 'registry' }), 0)
})

test('without discovery there are no discovery metrics', async (t) => {
  const registry = new Registry()
  const app = Fastify()
  await app.register(lolly, { targets: ['http://127.0.0.1:1'], metrics: { registry } })
  t.teardown(() => app.close())
  await app.ready()
  t.notOk((await registry.metrics()).includes('lolly_discovery'))
  t.same(app.lolly.sources, [])
})

test('the status page shows each source and tags its targets', {
  skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is not installed (apt-get install chromium); CI installs it`
}, async (t) => {
  const ups = await startUpstreams(2)
  const provider = testProvider([ups[0].url, { url: ups[1].url, backup: true }])
  const app = Fastify()
  await app.register(lolly, { targets: [{ discover: provider.discover, name: 'registry' }], status: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
  t.teardown(async () => { await browser.close(); await app.close(); await Promise.all(ups.map((u) => u.close())) })
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/lolly`)
  await page.waitForSelector('p.source[data-source="registry"]', { timeout: 5000 })
  t.match(await page.locator('p.source .source-meta').textContent(), /^discover · 2 targets · answered \d+s ago · 1 ok, 0 empty, 0 failed$/)
  t.same(await page.locator(`tr[data-target="${ups[1].url}"] td.url .tag`).allTextContents(), ['backup', 'registry'])

  await provider.yieldSet([ups[0].url, 7])
  await settle()
  await page.waitForFunction(() => /registry\[1\] must be/.test(document.querySelector('p.source .source-error')?.textContent ?? ''), undefined, { timeout: 3000 })
  t.same(errors, [])
})
