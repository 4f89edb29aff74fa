import { test } from 'tap'
import { request } from 'undici'
import { describeStateChange, startDemo } from '../lib/cli/demo.js'
import { Output } from './helpers/fake-cli-process.js'
import { spawnLolly } from './helpers/lolly-cli.js'

async function json (url: string, method: 'GET' | 'POST' = 'GET'): Promise<{ status: number, body: any }> {
  const res = await request(url, { method })
  return { status: res.statusCode, body: await res.body.json() }
}

async function eventually (condition: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await condition()) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return false
}

test('the demo balances over three upstreams, shows their state, and an outage is hidden then taken out', async (t) => {
  const out = new Output()
  const demo = await startDemo({ host: '127.0.0.1', port: 0, out: out.stream, healthInterval: 300 })
  t.teardown(() => demo.close())
  const { url } = demo

  t.match(out.text, new RegExp(`a gateway on ${url.replace(/\./g, '\\.')} balancing round robin over three local upstreams`))
  for (const upstream of demo.upstreams) t.match(out.text, new RegExp(`  ${upstream.name} +${upstream.url}  healthy`))
  t.match(out.text, `for i in 1 2 3 4 5 6; do curl -s ${url}/hello; done`, 'a line that shows the balancing')
  t.match(out.text, `curl ${url}/_lolly/targets`, 'a line that shows the targets\' state')
  t.match(out.text, `open ${url}/lolly `, 'and the status page')
  const page = await request(`${url}/lolly`)
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  await page.body.dump()

  const answers: string[] = []
  for (let i = 0; i < 6; i++) answers.push((await json(`${url}/hello?i=${i}`)).body.upstream)
  t.same(answers.slice(0, 3).sort(), ['alpha', 'bravo', 'charlie'], 'round robin over the three')
  t.same(answers.slice(3), answers.slice(0, 3), 'in a steady order')
  t.same((await json(`${url}/hello?x=1`)).body.url, '/hello?x=1', 'the path and query go upstream unchanged')

  const targets = (await json(`${url}/_lolly/targets`)).body
  t.equal(targets.upstream, 'demo')
  t.same(targets.targets.map((s: { name: string, state: string }) => `${s.name} ${s.state}`), ['alpha healthy', 'bravo healthy', 'charlie healthy'])

  t.same((await json(`${url}/_demo/bravo/fail`, 'POST')).body, { upstream: 'bravo', failing: true })
  for (let i = 0; i < 15; i++) t.not((await json(`${url}/x`)).body.upstream, 'bravo', 'failover answers from another target')
  t.ok(await eventually(async () => (await json(`${url}/_lolly/targets`)).body.targets[1].state === 'unhealthy'), 'bravo fails its probes')
  await out.waitFor(/\] bravo \(http:\/\/127\.0\.0\.1:\d+\): \w+ -> unhealthy \(/)

  t.same((await json(`${url}/_demo/bravo/recover`, 'POST')).body, { upstream: 'bravo', failing: false })
  t.ok(await eventually(async () => (await json(`${url}/_lolly/targets`)).body.targets[1].state === 'healthy'), 'bravo comes back after good probes')
  t.equal((await json(`${url}/_demo/delta/fail`, 'POST')).status, 404)
  t.equal((await json(`${url}/_demo/bravo/explode`, 'POST')).status, 404)
})

test('a state change line names the target', (t) => {
  const change = { upstream: 'demo', target: 'http://127.0.0.1:1', name: null, from: 'healthy', to: 'unhealthy', reason: 'probe', at: Date.UTC(2026, 0, 1, 12, 3, 4) } as const
  t.equal(describeStateChange({ ...change, name: 'alpha' }), '  [12:03:04] alpha (http://127.0.0.1:1): healthy -> unhealthy (probe)\n')
  t.equal(describeStateChange(change), '  [12:03:04] http://127.0.0.1:1 (http://127.0.0.1:1): healthy -> unhealthy (probe)\n')
  t.end()
})

test('lolly --demo (what npm start runs) answers through the gateway and exits 0 on SIGINT', async (t) => {
  const lolly = spawnLolly(t, ['--demo'], { PORT: '0' })
  const [, origin] = await lolly.out.waitFor(/a gateway on (http:\/\/127\.0\.0\.1:\d+)/, 10_000)
  await lolly.out.waitFor(/Ctrl-C stops the demo/)
  const first = await json(`${origin}/hello`)
  t.equal(first.status, 200)
  t.match(first.body.upstream, /^(alpha|bravo|charlie)$/)
  t.equal((await json(`${origin}/_lolly/targets`)).body.targets.length, 3)
  lolly.child.kill('SIGINT')
  t.equal(await lolly.exit(), 0)
  t.match(lolly.out.text, /SIGINT received.*\nlolly: stopped\n$/s)
  t.equal(lolly.err.text, '')
})
