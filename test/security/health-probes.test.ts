import { test } from 'tap'
import type { ServerResponse } from 'node:http'
import { onRequestHeads, startRawTarget } from '../helpers/fault-targets.js'
import { eventually, startGateway } from '../helpers/gateway.js'
import { startUpstream } from '../helpers/upstreams.js'

// A target (or whatever took over its address) answers our health probes however it likes. A probe
// must not be steered elsewhere (redirects, a Host header, headers naming other hosts), must not read
// without limit, and must not let what it read affect anything but that target's health.

// Timeouts roomy enough for a loaded two-core machine; probes that time out would prove nothing here.
const FAST = { interval: 100, timeout: 80, jitter: 0, healthyThreshold: 1, unhealthyThreshold: 1 }

test('a probe answered with a redirect to another server does not follow it', async (t) => {
  const outside = await startUpstream('outside')
  const target = await startUpstream('target', (req, res) => {
    if (req.url === '/health') {
      res.writeHead(302, { location: `${outside.url}/health` })
      res.end()
    } else res.end('ok')
  })
  const gateway = await startGateway({ targets: [target.url], healthCheck: FAST }, () => {})
  t.teardown(async () => { await gateway.app.close(); await target.close(); await outside.close() })
  t.ok(await eventually(() => gateway.app.lolly.targets[0].lastCheck?.status === 302), 'the probe got the redirect')
  t.match(gateway.app.lolly.targets[0].lastCheck, { ok: false, status: 302, error: 'status 302' }, 'and did not follow it')
  t.equal(gateway.app.lolly.targets[0].state, 'unhealthy', 'a redirect is not a pass')
  t.equal(outside.hits.length, 0, 'the redirect target was never contacted')
})

test('a probe answered with an endless body reads maxBodyBytes and hangs up', async (t) => {
  let written = 0
  const streams: ServerResponse[] = []
  const target = await startUpstream('target', (req, res) => {
    if (req.url !== '/health') return res.end('ok')
    streams.push(res)
    const chunk = Buffer.alloc(16 * 1024, 'z')
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) written += chunk.length
      if (!res.destroyed) res.once('drain', pump)
    }
    pump()
  })
  const gateway = await startGateway({
    targets: [target.url],
    healthCheck: { ...FAST, maxBodyBytes: 1024, expect: { body: 'never-there' } }
  }, () => {})
  t.teardown(async () => { await gateway.app.close(); await target.close() })
  t.ok(await eventually(() => gateway.app.lolly.targets[0].lastCheck?.status === 200), 'a probe finished')
  t.match(gateway.app.lolly.targets[0].lastCheck, { ok: false, status: 200, error: 'body did not match' })
  t.ok(await eventually(() => streams.length > 0 && streams.every((res) => res.destroyed)), 'the probe hung up on every endless body')
  t.ok(written < 8 * 1024 * 1024, `the target got to write ${Math.round(written / 1024)} KiB, not without end`)
})

test('a poisoned Host on the probe and steering headers in its answer change nothing but that target\'s health', async (t) => {
  const outside = await startUpstream('outside')
  const hosts: string[] = []
  const target = await startUpstream('target', (req, res) => {
    if (req.url === '/health') {
      hosts.push(req.headers.host!)
      res.writeHead(200, {
        location: `${outside.url}/elsewhere`,
        'content-location': `${outside.url}/health`,
        'alt-svc': `h2="127.0.0.1:${outside.port}"`,
        'set-cookie': 'session=stolen; Domain=.example',
        'x-forwarded-host': `127.0.0.1:${outside.port}`,
        refresh: `0; url=${outside.url}`
      })
      res.end('ok')
    } else res.end('traffic')
  })
  const gateway = await startGateway({
    targets: [target.url],
    healthCheck: { ...FAST, headers: { host: `127.0.0.1:${outside.port}` } }
  })
  t.teardown(async () => { await gateway.app.close(); await target.close(); await outside.close() })
  t.ok(await eventually(() => hosts.length >= 3), 'probes reached the target whatever Host they carry')
  t.equal(hosts[0], `127.0.0.1:${outside.port}`, 'the configured Host was sent as a header, nothing more')
  t.equal(gateway.app.lolly.targets[0].state, 'healthy')
  const res = await fetch(`${gateway.url}/x`)
  t.equal(await res.text(), 'traffic', 'real traffic still goes to the target')
  t.equal(res.headers.get('set-cookie'), null, 'nothing from a probe answer reaches a client')
  t.equal(outside.hits.length, 0, 'the outside server was never contacted')
})

test('a probe answered with ambiguous framing or an upgrade fails the probe, nothing more', async (t) => {
  const answers = [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!',
    'HTTX/9.9 abc\r\n\r\n'
  ]
  for (const answer of answers) {
    const target = await startRawTarget((socket) => onRequestHeads(socket, () => socket.end(answer)))
    const gateway = await startGateway({ targets: [target.url], healthCheck: FAST }, () => {})
    const check = () => gateway.app.lolly.targets[0].lastCheck
    t.ok(await eventually(() => check() !== null), `${JSON.stringify(answer.slice(0, 40))}: a probe finished`)
    t.equal(check()!.ok, false, `${JSON.stringify(answer.slice(0, 40))}: the probe failed (${check()!.error})`)
    t.equal(gateway.app.lolly.targets[0].state, 'unhealthy')
    await gateway.app.close()
    await target.close()
  }
})
