import { test } from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { request } from 'undici'
import { gatewayOrigin, spawnLolly } from './helpers/lolly-cli.js'
import { startUpstream, type Upstream } from './helpers/upstreams.js'

// These run the real command, `node bin/lolly.js`, against the built dist/ (`npm run build` first).

async function tempDir (t: { teardown (fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lolly-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** An upstream answering `<name> <path> <client port>`: the port shows which connection a request came on. */
function reporter (name: string): Promise<Upstream> {
  return startUpstream(name, (req, res) => res.end(`${name} ${req.url} ${req.socket.remotePort}`))
}

async function get (url: string): Promise<string> {
  const res = await request(url)
  return `${res.statusCode} ${await res.body.text()}`
}

test('lolly --help prints the usage and exits 0', async (t) => {
  const lolly = spawnLolly(t, ['--help'])
  t.equal(await lolly.exit(), 0)
  t.match(lolly.out.text, /^Usage:\n {2}lolly --config <file>/)
  t.match(lolly.out.text, /SIGHUP {12}reload the file/)
})

test('a bad config file: the file and the path on stderr, exit 1', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'lolly.yaml')
  await writeFile(file, 'upstreams:\n  api:\n    targets:\n      - http://127.0.0.1:9001\n      - { url: http://127.0.0.1:9002, weight: 0 }\n')
  const lolly = spawnLolly(t, ['--config', file])
  t.equal(await lolly.exit(), 1)
  t.equal(lolly.err.text, `lolly: ${file}: upstreams.api.targets[1].weight must be an integer from 1 to 1000000, got 0\n`)
  t.equal(lolly.out.text, '')
})

test('the sample config runs; SIGHUP applies target changes, keeps state and connections, refuses a bad file', async (t) => {
  const api2 = await startUpstream('api2', (req, res) => { res.statusCode = 503; res.end('api2 is down') })
  const ups = [...await Promise.all(['api1', 'api3', 'web1', 'web2'].map(reporter)), api2]
  t.teardown(() => Promise.all(ups.map((u) => u.close())))
  const [api1, api3, web1, web2] = ups
  const sample = await readFile(path.join(__dirname, '..', 'examples', 'lolly.yaml'), 'utf8')
  // Ports of this test's upstreams; probes rarely enough that only real traffic changes a state here.
  const withPorts = (text: string): string => text
    .replace('port: 8080', 'port: 0')
    .replace('interval: 5000', 'interval: 60000')
    .replace('127.0.0.1:9001', `127.0.0.1:${api1.port}`)
    .replace('127.0.0.1:9002', `127.0.0.1:${api2.port}`)
    .replace('127.0.0.1:9003', `127.0.0.1:${api3.port}`)
    .replace('127.0.0.1:9004', `127.0.0.1:${web1.port}`)
  const file = path.join(await tempDir(t), 'lolly.yaml')
  await writeFile(file, withPorts(sample))

  const lolly = spawnLolly(t, ['--config', file])
  const origin = await gatewayOrigin(lolly)
  const api2State = async (): Promise<{ state: string, since: number }> => {
    const view = JSON.parse((await get(`${origin}/lolly/targets.json`)).slice(4))
    const { state, since } = view.upstreams.find((u: { name: string }) => u.name === 'api').targets.find((s: { url: string }) => s.url === api2.url)
    return { state, since }
  }

  t.match(await get(`${origin}/api/users?id=7`), /^200 api1 \/users\?id=7 \d+$/, '/api is stripped, the query kept; api2 fails over to api1')
  for (let i = 0; i < 10; i++) t.match(await get(`${origin}/api/x`), /^200 api1 /)
  const ejected = await api2State()
  t.equal(ejected.state, 'ejected', 'api2 failed real traffic and was ejected (status page)')
  const webBefore = await get(`${origin}/index.html`)
  t.match(webBefore, /^200 web1 \/index\.html \d+$/)
  const webPort = webBefore.split(' ').at(-1)

  // Reload: web gets a second target, api loses api1 (api2 is ejected: the backup api3 takes over).
  const reloaded = withPorts(sample)
    .replace(`      - http://127.0.0.1:${api1.port}\n`, '')
    .replace(`      - http://127.0.0.1:${web1.port}\n`, `      - http://127.0.0.1:${web1.port}\n      - http://127.0.0.1:${web2.port}\n`)
  t.not(reloaded, withPorts(sample))
  await writeFile(file, reloaded)
  lolly.child.kill('SIGHUP')
  await lolly.out.waitFor(/"msg":"lolly: reloaded [^"]*: 2 target change\(s\) applied"/)
  t.same(await api2State(), ejected, 'api2 is still ejected, since the same moment')
  const web = [await get(`${origin}/a`), await get(`${origin}/b`), await get(`${origin}/c`), await get(`${origin}/d`)]
  t.ok(web.some((body) => body.startsWith('200 web2 ')), 'the added target takes traffic')
  t.ok(web.some((body) => body.startsWith('200 web1 ')), 'the kept target still takes traffic')
  t.ok(web.filter((body) => body.startsWith('200 web1 ')).every((body) => body.endsWith(` ${webPort}`)), 'web1 is reached over the connection it had before the reload')
  const apiHits = api1.hits.length
  for (let i = 0; i < 4; i++) t.match(await get(`${origin}/api/x`), /^200 api3 /, 'the backup answers')
  t.equal(api1.hits.length, apiHits, 'the removed target gets nothing')

  await writeFile(file, reloaded.replace('balancer: least-connections', 'balancer: fastest'))
  lolly.child.kill('SIGHUP')
  await lolly.out.waitFor(/lolly: reload refused, still serving the previous configuration: [^"]*lolly\.yaml: upstreams\.api\.balancer must be one of/)
  t.match(await get(`${origin}/api/y`), /^200 api3 \/y /, 'the old configuration keeps serving')

  lolly.child.kill('SIGTERM')
  t.equal(await lolly.exit(), 0)
})

test('SIGTERM: the in-flight slow request completes, then exit 0', async (t) => {
  let release = (): void => {}
  let arrived = false
  const slow = await startUpstream('slow', (req, res) => {
    arrived = true
    release = () => res.end('slow done')
  })
  t.teardown(() => { release(); return slow.close() })
  const file = path.join(await tempDir(t), 'lolly.json')
  await writeFile(file, JSON.stringify({ listen: { port: 0 }, targets: [slow.url] }))
  const lolly = spawnLolly(t, ['-c', file])
  const origin = await gatewayOrigin(lolly)
  const inflight = get(`${origin}/slow`)
  await waitUntil(() => arrived)
  lolly.child.kill('SIGTERM')
  await lolly.out.waitFor(/SIGTERM received/)
  await t.rejects(request(`${origin}/new`), { code: 'ECONNREFUSED' }, 'no new connections')
  release()
  t.equal(await inflight, '200 slow done')
  t.equal(await lolly.exit(), 0)
  t.match(lolly.out.text, /"msg":"lolly: stopped"/)
})

async function waitUntil (condition: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
