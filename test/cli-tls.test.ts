import { test } from 'tap'
import crypto from 'node:crypto'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tls, { type TLSSocket } from 'node:tls'
import { main } from '../lib/cli/main.js'
import { FakeCliProcess } from './helpers/fake-cli-process.js'
import { findOpenssl, selfSignedCert, type TestCert } from './helpers/test-certs.js'
import { startUpstream } from './helpers/upstreams.js'
import { closed, connect, startWsTarget } from './helpers/ws-targets.js'

// The `lolly` command serving HTTPS and HTTP/2 (ALPN, with HTTP/1.1 for other clients and for
// WebSocket) from certificate files, a plain-HTTP entry redirecting to it, and SIGHUP swapping the
// certificate under open connections. Real servers and clients on loopback; certificates by openssl.

interface Setup { dir: string, file: string, one: TestCert, two: TestCert, ca: string[] }

async function setup (t: { teardown (fn: () => unknown): void }): Promise<Setup> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lolly-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const openssl = findOpenssl()
  const [one, two] = await Promise.all([selfSignedCert(dir, 'one', openssl), selfSignedCert(dir, 'two', openssl)])
  // The file names the config uses; a renewal writes over them, as certbot or a Kubernetes secret does.
  await Promise.all([copyFile(one.certFile, path.join(dir, 'live.pem')), copyFile(one.keyFile, path.join(dir, 'live.key'))])
  return { dir, file: path.join(dir, 'lolly.yaml'), one, two, ca: [one.cert, two.cert] }
}

function fingerprintOf (cert: TestCert): string {
  return new crypto.X509Certificate(cert.cert).fingerprint256
}

interface Answer { status: number, body: string, fingerprint: string, alpn: string | false | null, reused: boolean }

/** GET over https with `agent`; what came back, and the certificate of the connection it came on. */
function get (agent: https.Agent, origin: string, pathname: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${origin}${pathname}`, { agent }, (res) => {
      // Taken now: a kept-alive socket goes back to the agent at the end.
      const socket = res.socket as TLSSocket
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => {
        resolve({ status: res.statusCode!, body, fingerprint: socket.getPeerCertificate().fingerprint256, alpn: socket.alpnProtocol, reused: req.reusedSocket })
      })
    })
    req.on('error', reject)
  })
}

/** One request on an HTTP/2 session; its status and body. */
function h2get (session: http2.ClientHttp2Session, pathname: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': pathname })
    let status = 0
    let body = ''
    stream.on('response', (headers) => { status = headers[':status']! })
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => { body += chunk })
    stream.on('end', () => resolve({ status, body }))
    stream.on('error', reject)
  })
}

async function listening (proc: FakeCliProcess): Promise<Record<string, unknown> & { msg: string }> {
  await proc.out.waitFor(/gateway listening on/)
  return proc.out.lines.find((line) => line.msg.startsWith('lolly: gateway listening on'))!
}

test('https and h2 on one port, wss, a redirect entry; SIGHUP swaps the certificate under open connections; a bad one is refused', async (t) => {
  const s = await setup(t)
  let arrived = (): void => {}
  let release = (): void => {}
  const slowArrived = new Promise<void>((resolve) => { arrived = resolve })
  const echo = await startUpstream('echo', (req, res) => {
    const answer = (): void => { res.end(JSON.stringify({ url: req.url, headers: req.headers })) }
    if (req.url !== '/slow') return answer()
    release = answer
    arrived()
  })
  const ws = await startWsTarget()
  t.teardown(() => Promise.all([echo.close(), ws.close()]))
  await writeFile(s.file, [
    'logger: { level: info }',
    'listen:',
    '  - { port: 0, redirect: true }',
    '  - { port: 0, tls: { cert: live.pem, key: live.key }, http2: true }',
    'upstreams:',
    `  echo: { targets: [${echo.url}] }`,
    `  ws: { targets: [${ws.url}], websocket: true }`,
    'defaultUpstream: echo',
    'routes:',
    '  - { prefix: /live, upstream: ws }',
    '  - { prefix: /, upstream: echo }',
    ''
  ].join('\n'))
  const proc = new FakeCliProcess()
  const exit = main(['-c', s.file], proc)
  // Stops it if an assertion threw first (after a stop, the signal is no longer listened to).
  t.teardown(() => { proc.signal('SIGTERM'); return exit })
  const started = await listening(proc)
  const origin = started.address as string
  const redirect = (started.redirects as string[])[0]
  t.match(origin, /^https:\/\/127\.0\.0\.1:\d+$/)
  t.same(started.protocols, ['h2', 'http/1.1'])
  t.equal(started.msg.slice(0, started.msg.indexOf(' (' + s.file)),
    `lolly: gateway listening on ${origin} (h2, http/1.1), redirecting ${redirect} to https`, 'the line names every address')
  const port = new URL(origin).port

  // HTTP/1.1 through ALPN, on a kept-alive connection
  const before = new https.Agent({ keepAlive: true, maxSockets: 1, ca: s.ca, ALPNProtocols: ['http/1.1'] })
  t.teardown(() => before.destroy())
  const first = await get(before, origin, '/a?b=1')
  t.same([first.status, JSON.parse(first.body).url, first.alpn, first.fingerprint], [200, '/a?b=1', 'http/1.1', fingerprintOf(s.one)])
  const h1headers = JSON.parse(first.body).headers
  t.same([h1headers.host, h1headers['x-forwarded-host'], h1headers['x-forwarded-proto']], [`127.0.0.1:${echo.port}`, `127.0.0.1:${port}`, 'https'],
    'Host is the target\'s, X-Forwarded-Host and -Proto the client\'s')
  const noAlpn = new https.Agent({ ca: s.ca })
  t.teardown(() => noAlpn.destroy())
  const plain = await get(noAlpn, origin, '/no-alpn')
  t.same([plain.status, plain.alpn], [200, false], 'a client offering no ALPN gets HTTP/1.1 too')

  // HTTP/2 through ALPN on the same port, to an HTTP/1.1 target: Host from :authority, no pseudo-headers
  const session = http2.connect(origin, { ca: s.ca })
  t.teardown(() => session.close())
  const h2 = await h2get(session, '/h2?q=1')
  const seen = JSON.parse(h2.body) as { url: string, headers: Record<string, string> }
  t.same([h2.status, seen.url, (session.socket as TLSSocket).alpnProtocol], [200, '/h2?q=1', 'h2'])
  t.same([seen.headers.host, seen.headers['x-forwarded-host'], seen.headers['x-forwarded-proto']], [`127.0.0.1:${echo.port}`, `127.0.0.1:${port}`, 'https'],
    'as for HTTP/1.1: Host is the target\'s, X-Forwarded-Host the :authority')
  t.same(Object.keys(seen.headers).filter((name) => name.startsWith(':')), [], 'no pseudo-header reached the target')

  // wss: WebSocket is HTTP/1.1, which ALPN gives it on the HTTP/2 port
  const client = await connect(`${origin.replace('https:', 'wss:')}/live/room`, undefined, { ca: s.ca })
  t.equal(client.greeting.url, '/live/room', 'tunnelled over TLS')
  client.ws.close()
  t.equal(await closed(client.ws), 1005)

  // Another upgrade over TLS is served as the plain request it also is, on the same TLS connection
  const raw = tls.connect({ host: '127.0.0.1', port: Number(port), ca: s.ca, ALPNProtocols: ['http/1.1'] })
  raw.setEncoding('latin1')
  const answered = new Promise<string>((resolve) => {
    let text = ''
    raw.on('data', (chunk: string) => {
      text += chunk
      if (text.endsWith('plain /live/plain')) resolve(text)
    })
  })
  raw.write('GET /live/plain HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n')
  const text = await answered
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/, 'answered as HTTP/1.1')
  raw.destroy()

  // The redirect entry: 308 to the TLS port, with the Host's name, path and query
  const moved = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${redirect}/x/y?z=1`, { headers: { host: 'gateway.test:8080' }, agent: false }, resolve).on('error', reject)
  })
  moved.resume()
  t.same([moved.statusCode, moved.headers.location], [308, `https://gateway.test:${port}/x/y?z=1`])

  // SIGHUP with new certificate files: the open connections keep theirs, new ones get the new one
  await Promise.all([copyFile(s.two.certFile, path.join(s.dir, 'live.pem')), copyFile(s.two.keyFile, path.join(s.dir, 'live.key'))])
  proc.signal('SIGHUP')
  await proc.out.waitFor(/reloaded .*: no target changed/)
  const renewed = proc.out.lines.find((line) => line.msg.includes('new certificate'))!
  t.equal(renewed.msg, `lolly: reload: new certificate for 127.0.0.1:0 from ${path.join(s.dir, 'live.pem')}; open connections keep the one they began with`)
  t.equal(renewed.fingerprint, fingerprintOf(s.two))
  const again = await get(before, origin, '/again')
  t.same([again.status, again.reused, again.fingerprint], [200, true, fingerprintOf(s.one)], 'the kept-alive connection goes on with the old certificate')
  t.equal((await h2get(session, '/h2-again')).status, 200, 'so does the HTTP/2 session')
  const after = new https.Agent({ ca: s.ca })
  t.teardown(() => after.destroy())
  const fresh = await get(after, origin, '/fresh')
  t.same([fresh.status, fresh.reused, fresh.fingerprint], [200, false, fingerprintOf(s.two)], 'a new connection sees the new certificate')

  // A certificate that does not parse: the reload is refused, the running one stays
  await writeFile(path.join(s.dir, 'live.pem'), 'half-written\n')
  proc.signal('SIGHUP')
  await proc.out.waitFor(/reload refused/)
  const refused = proc.out.lines.filter((line) => line.msg.includes('reload refused'))
  t.equal(refused.length, 1, 'logged once')
  t.equal(refused[0].level, 50)
  t.ok(refused[0].msg.startsWith(`lolly: reload refused, still serving the previous configuration: ${s.file}: listen[1].tls.cert (${path.join(s.dir, 'live.pem')}) is not a PEM certificate: `), refused[0].msg)
  const still = await get(new https.Agent({ ca: s.ca }), origin, '/still')
  t.same([still.status, still.fingerprint], [200, fingerprintOf(s.two)])

  // SIGTERM: the HTTP/2 request in flight finishes, then its session closes (GOAWAY); the idle
  // kept-alive HTTP/1.1 connection closes; the redirect server closes
  const slow = h2get(session, '/slow')
  await slowArrived
  const sessionClosed = new Promise<void>((resolve) => session.once('close', resolve))
  proc.signal('SIGTERM')
  await proc.out.waitFor(/SIGTERM received/)
  release()
  t.equal((await slow).status, 200, 'the request in flight was answered')
  await sessionClosed
  t.equal(await exit, 0)
  const refusedConnection = await new Promise<string>((resolve) => {
    http.get(redirect, { agent: false }, () => resolve('answered')).on('error', (err: NodeJS.ErrnoException) => resolve(err.code!))
  })
  t.equal(refusedConnection, 'ECONNREFUSED', 'the redirect server is closed')
})

test('https without http2: HTTP/1.1 only; an unchanged certificate is not swapped; a redirect port in use fails the start', async (t) => {
  const s = await setup(t)
  const echo = await startUpstream('echo')
  const taken = http.createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => Promise.all([echo.close(), new Promise((resolve) => taken.close(resolve))]))
  const takenPort = (taken.address() as AddressInfo).port

  await writeFile(s.file, `listen: [{ port: 0, tls: { cert: one.pem, key: one.key } }, { port: ${takenPort}, redirect: true }]\ntargets: [${echo.url}]\n`)
  const failing = new FakeCliProcess()
  t.equal(await main(['-c', s.file], failing), 1)
  t.match(failing.err.text, /^lolly: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+\n$/)

  await writeFile(s.file, `listen: { port: 0, tls: { cert: one.pem, key: one.key } }\ntargets: [${echo.url}]\n`)
  const proc = new FakeCliProcess()
  const exit = main(['-c', s.file], proc)
  // Stops it if an assertion threw first (after a stop, the signal is no longer listened to).
  t.teardown(() => { proc.signal('SIGTERM'); return exit })
  const started = await listening(proc)
  const origin = started.address as string
  t.same([started.protocols, started.redirects], [['http/1.1'], []])
  const agent = new https.Agent({ ca: s.ca })
  t.teardown(() => agent.destroy())
  const answer = await get(agent, origin, '/plain')
  t.same([answer.status, answer.body, answer.fingerprint], [200, 'echo GET /plain', fingerprintOf(s.one)])
  const session = http2.connect(origin, { ca: s.ca })
  const h2error = await new Promise<Error>((resolve) => session.on('error', resolve))
  t.match(h2error.message, /ALPN|protocol/i, 'no h2 offered')

  proc.signal('SIGHUP')
  await proc.out.waitFor(/reloaded .*: no target changed/)
  t.notOk(proc.out.text.includes('new certificate'), 'the same certificate is not applied again')
  proc.signal('SIGTERM')
  t.equal(await exit, 0)
})
