import { test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gatewayOrigin, spawnLolly } from './helpers/lolly-cli.js'
import { closed, connect, startWsTarget } from './helpers/ws-targets.js'

test('the lolly command tunnels WebSocket and sets the affinity cookie from its file; SIGTERM closes open tunnels and exits at once', async (t) => {
  const target = await startWsTarget('127.0.0.2')
  const dir = await mkdtemp(path.join(tmpdir(), 'lolly-ws-'))
  t.teardown(async () => { await target.close(); await rm(dir, { recursive: true, force: true }) })
  const file = path.join(dir, 'lolly.yaml')
  await writeFile(file, [
    'listen: { port: 0 }',
    'routes:',
    '  - { prefix: /live, rewritePrefix: /ws, websocket: true }',
    'targets:',
    `  - ${target.url}`,
    'affinity: { cookie: { name: sticky, secret: "a file secret, 16+" } }',
    ''
  ].join('\n'))
  const lolly = spawnLolly(t, ['-c', file])
  const origin = await gatewayOrigin(lolly)
  const wsOrigin = origin.replace('http:', 'ws:')
  const { ws, greeting, headers } = await connect(`${wsOrigin}/live/room`)
  t.equal(greeting.url, '/ws/room', 'the route rewrote the path of the handshake')
  t.match(headers['set-cookie'], /^sticky=/)
  const before = Date.now()
  lolly.child.kill('SIGTERM')
  t.equal(await closed(ws), 1006, 'the tunnel was closed')
  t.equal(await lolly.exit(), 0)
  t.ok(Date.now() - before < 3000, 'without waiting for the tunnel to end by itself')
})
