import tap, { test } from 'tap'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadGatewayConfig, readGatewayConfig } from '../lib/cli/gateway-config.js'
import { main } from '../lib/cli/main.js'
import { startRedirectServer } from '../lib/cli/redirect-server.js'
import { planReload } from '../lib/cli/reload-plan.js'
import { FakeCliProcess } from './helpers/fake-cli-process.js'
import { rawRequest } from './helpers/raw-http.js'
import { findOpenssl, selfSignedCert, type TestCert } from './helpers/test-certs.js'

// `listen` with tls, http2 and redirect entries: what the file may say, and every message naming
// the path in it. The certificates are real (openssl), in a folder the config file is "in".

interface Files { dir: string, file: string, a: TestCert, b: TestCert }

async function files (t: { teardown (fn: () => unknown): void }): Promise<Files> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lolly-tls-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const openssl = findOpenssl()
  const [a, b] = await Promise.all([selfSignedCert(dir, 'a', openssl), selfSignedCert(dir, 'b', openssl)])
  await writeFile(path.join(dir, 'garbage.pem'), 'not a PEM\n')
  return { dir, file: path.join(dir, 'f.yaml'), a, b }
}

const TARGETS = { targets: ['http://127.0.0.1:9'] }
// One folder of certificates for the whole file: each test writes files of its own names only.
let shared: Promise<Files> | undefined
const certificates = (): Promise<Files> => (shared ??= files(tap))

test('listen entries: the shapes a file may use, relative files from the config file\'s folder, --host and --port on the serving entry', async (t) => {
  const f = await certificates()
  const read = (listen: unknown, overrides = {}) => readGatewayConfig({ ...TARGETS, listen }, f.file, overrides)

  const plain = read(undefined)
  t.same([plain.listen, plain.redirects, plain.credentials], [{ host: '127.0.0.1', port: 3000, tls: null, http2: false }, [], null], 'the default: plain HTTP on 127.0.0.1:3000')
  t.same(read({ port: 8080 }).listen, { host: '127.0.0.1', port: 8080, tls: null, http2: false }, 'the object form, as before')

  const config = read([
    { port: 80, redirect: true },
    { host: '0.0.0.0', port: 443, tls: { cert: 'a.pem', key: f.a.keyFile }, http2: true },
    { host: '127.0.0.2', port: 80, redirect: true }
  ])
  t.same(config.listen, { host: '0.0.0.0', port: 443, tls: { cert: f.a.certFile, key: f.a.keyFile }, http2: true }, 'the serving entry may come anywhere')
  t.same(config.redirects, [{ host: '127.0.0.1', port: 80 }, { host: '127.0.0.2', port: 80 }])
  t.equal(config.credentials!.cert.toString(), f.a.cert, 'read when the file is loaded')
  t.equal(config.credentials!.key.toString(), f.a.key)
  t.same([config.credentials!.certFile, config.credentials!.keyFile], [f.a.certFile, f.a.keyFile])

  const overridden = read([{ port: 8443, tls: { cert: 'a.pem', key: 'a.key' } }, { port: 8080, redirect: true }], { host: '::1', port: 0 })
  t.same([overridden.listen.host, overridden.listen.port], ['::1', 0], '--host and --port move the serving entry')
  t.same(overridden.redirects, [{ host: '127.0.0.1', port: 8080 }], 'and leave the redirects where they are')
  t.same(read([{ port: 0, tls: { cert: 'a.pem', key: 'a.key' } }, { port: 0, redirect: true }]).redirects, [{ host: '127.0.0.1', port: 0 }], 'port 0 twice is two free ports')
})

test('listen errors name the path in the file and the value', async (t) => {
  const f = await certificates()
  const tls = { cert: 'a.pem', key: 'a.key' }
  const cases: Array<[unknown, string]> = [
    [5, 'listen must be an object ({ host, port, tls, http2, redirect }) or a non-empty array of them, got 5'],
    [[], 'listen must be an object ({ host, port, tls, http2, redirect }) or a non-empty array of them, got []'],
    [[{ port: 1 }, 'x'], "listen[1] must be an object, got 'x'"],
    [{ port: 1, tsl: tls }, 'listen.tsl is not a known option (known: host, port, tls, http2, redirect)'],
    [[{ port: 70000 }], 'listen[0].port must be an integer from 0 to 65535, got 70000'],
    [{ host: '' }, "listen.host must be a non-empty string, got ''"],
    [{ http2: true }, 'listen.http2 must be false on an entry without tls (HTTP/2 is served over TLS, with HTTP/1.1 through ALPN; cleartext h2c is not), got true'],
    [{ http2: 'yes', tls }, "listen.http2 must be a boolean, got 'yes'"],
    [{ tls: true }, 'listen.tls must be an object, got true'],
    [{ tls: { cert: 'a.pem' } }, 'listen.tls.key must be the path of a PEM file, got undefined'],
    [{ tls: { cert: '', key: 'a.key' } }, "listen.tls.cert must be a non-empty string, got ''"],
    [{ tls: { ...tls, ca: 'x' } }, 'listen.tls.ca is not a known option (known: cert, key)'],
    [[{ tls }, { port: 80, redirect: true, tls }], 'listen[1].redirect must be false on an entry with tls (a redirect entry answers plain HTTP), got true'],
    [[{ tls }, { redirect: true }], 'listen[1].port must be given on a redirect entry (the plain-HTTP port, usually 80), got undefined'],
    [[{ port: 8080 }, { port: 80, redirect: true }], 'listen[1].redirect must be false when the serving entry (listen[0]) has no tls: there is no https to redirect to, got true'],
    [[{ port: 80, redirect: true }], 'listen must be a list with one entry that serves (without redirect: true), got [ { port: 80, redirect: true } ]'],
    [[{ port: 1, tls }, { port: 2 }], 'listen[1] must be a redirect entry (redirect: true), got { port: 2 }: the gateway serves on one address, and listen[0] serves already'],
    [[{ port: 443, tls }, { port: 443, redirect: true }], 'listen[1].port must be another port than listen[0]\'s on host 127.0.0.1, got 443'],
    [{ tls: { cert: 'missing.pem', key: 'a.key' } }, `listen.tls.cert (${path.join(f.dir, 'missing.pem')}) cannot be read: ENOENT: no such file or directory, open '${path.join(f.dir, 'missing.pem')}'`],
    [{ tls: { cert: 'a.pem', key: 'missing.key' } }, `listen.tls.key (${path.join(f.dir, 'missing.key')}) cannot be read: ENOENT: no such file or directory, open '${path.join(f.dir, 'missing.key')}'`]
  ]
  for (const [listen, message] of cases) {
    t.throws(() => readGatewayConfig({ ...TARGETS, listen }, f.file), { code: 'FST_LOLLY_INVALID_OPTION', message: `${f.file}: ${message}` }, message)
  }
  // OpenSSL's reason follows the colon; its wording varies with the OpenSSL version.
  const pemCases: Array<[unknown, string]> = [
    [[{ port: 80, redirect: true }, { tls: { cert: 'garbage.pem', key: 'a.key' } }], `listen[1].tls.cert (${path.join(f.dir, 'garbage.pem')}) is not a PEM certificate: `],
    [{ tls: { cert: 'a.pem', key: 'garbage.pem' } }, `listen.tls.key (${path.join(f.dir, 'garbage.pem')}) is not an unencrypted PEM private key: `],
    [{ tls: { cert: 'a.pem', key: 'b.key' } }, `listen.tls.key (${f.b.keyFile}) is not the private key of listen.tls.cert (${f.a.certFile}): `]
  ]
  for (const [listen, start] of pemCases) {
    const err = (() => { try { readGatewayConfig({ ...TARGETS, listen }, f.file) } catch (err) { return err as Error } })()!
    t.ok(err.message.startsWith(`${f.file}: ${start}`), err.message)
    t.ok(err.message.length > f.file.length + 2 + start.length, 'with OpenSSL\'s reason')
  }
})

test('--check reads the certificate: a good one is OK, a bad one fails naming the path in the file and the file', async (t) => {
  const f = await certificates()
  await writeFile(f.file, 'targets: [http://127.0.0.1:9]\nlisten:\n  - { port: 8443, tls: { cert: a.pem, key: a.key }, http2: true }\n  - { port: 8080, redirect: true }\n')
  const good = new FakeCliProcess()
  t.equal(await main(['--check', '-c', f.file], good), 0)
  t.equal(good.out.text, `${f.file}: OK (1 upstream, 1 target, 1 route)\n`)
  await writeFile(f.file, 'targets: [http://127.0.0.1:9]\nlisten: { tls: { cert: b.pem, key: a.key } }\n')
  const bad = new FakeCliProcess()
  t.equal(await main(['--check', '-c', f.file], bad), 1)
  t.match(bad.err.text, `lolly: ${f.file}: listen.tls.key (${f.a.keyFile}) is not the private key of listen.tls.cert (${f.b.certFile}): `)
})

test('reload plan: new certificate files apply live; turning tls or http2 on or off, or a redirect, needs a restart', async (t) => {
  const f = await certificates()
  const config = (listen: unknown) => readGatewayConfig({ ...TARGETS, listen }, f.file)
  const a = config({ tls: { cert: 'a.pem', key: 'a.key' } })
  t.same(planReload(a, config({ tls: { cert: 'b.pem', key: 'b.key' } })).restartNeeded, [], 'other files: read and applied on reload')
  t.same(planReload(a, config({})).restartNeeded, ['listen'], 'tls off')
  t.same(planReload(config({}), a).restartNeeded, ['listen'], 'tls on')
  t.same(planReload(a, config({ tls: { cert: 'a.pem', key: 'a.key' }, http2: true })).restartNeeded, ['listen'], 'http2')
  t.same(planReload(a, config([{ tls: { cert: 'a.pem', key: 'a.key' } }, { port: 80, redirect: true }])).restartNeeded, ['listen'], 'a redirect added')
})

/** One request to `port` on loopback with these raw head lines; resolves with the status and Location. */
function ask (port: number, head: string): Promise<{ status: number, location: string | undefined }> {
  const [first, ...lines] = head.split('\n')
  const [method, target] = first.split(' ')
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]))
  return new Promise((resolve, reject) => {
    http.request({ port, host: '127.0.0.1', method, path: target, headers, setHost: false, agent: false }, (res) => {
      res.resume()
      resolve({ status: res.statusCode!, location: res.headers.location })
    }).on('error', reject).end()
  })
}

test('a redirect entry answers 308 to https on the serving port, 443 left out; 400 without a usable Host or path', async (t) => {
  const logged: string[] = []
  const log = { error: (_: object, message: string) => { logged.push(message) } }
  const to8443 = await startRedirectServer({ host: '127.0.0.1', port: 0 }, 8443, log)
  const to443 = await startRedirectServer({ host: '127.0.0.1', port: 0 }, 443, log)
  t.teardown(() => Promise.all([to8443.close(), to443.close()]))
  const port = (origin: string): number => Number(new URL(origin).port)
  t.match(to8443.origin, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.same(await ask(port(to8443.origin), 'GET /a/b?c=1&d\nHost: example.test:8080'), { status: 308, location: 'https://example.test:8443/a/b?c=1&d' })
  t.same(await ask(port(to8443.origin), 'POST //other.test/x\nHost: [::1]:80'), { status: 308, location: 'https://[::1]:8443//other.test/x' }, 'any method; the host is the Host header\'s')
  t.same(await ask(port(to443.origin), 'GET /\nHost: example.test'), { status: 308, location: 'https://example.test/' }, 'no :443')
  t.same(await ask(port(to8443.origin), 'GET /'), { status: 400, location: undefined }, 'no Host (Node\'s server answers HTTP/1.1 without one)')
  const old = await rawRequest(port(to8443.origin), 'GET / HTTP/1.0\r\n\r\n')
  t.same([old.status, old.body], [400, 'Only a request with a Host header and a path (origin form) is redirected to https\n'], 'HTTP/1.0 without Host')
  t.same(await ask(port(to8443.origin), 'GET /\nHost: a b'), { status: 400, location: undefined }, 'a Host that is no name')
  t.same(await ask(port(to8443.origin), 'GET http://other.test/x\nHost: example.test'), { status: 400, location: undefined }, 'absolute form')
  // An error once listening (accept failing with EMFILE) goes to the gateway's log, and the server goes on.
  to8443.server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }))
  t.same(logged, ['lolly: redirect entry 127.0.0.1:0: accept EMFILE'])
  t.same(await ask(port(to8443.origin), 'GET /\nHost: example.test'), { status: 308, location: 'https://example.test:8443/' })
  const v6 = await startRedirectServer({ host: '::1', port: 0 }, 8443, log).catch(() => undefined)
  if (v6 !== undefined) {
    t.match(v6.origin, /^http:\/\/\[::1\]:\d+$/, 'an IPv6 address is bracketed')
    await v6.close()
  }
})

test('examples/lolly-tls.yaml is valid once its certificate files exist; --help documents the keys', async (t) => {
  const f = await certificates()
  const example = path.join(__dirname, '..', 'examples', 'lolly-tls.yaml')
  const file = path.join(f.dir, 'lolly-tls.yaml')
  await copyFile(example, file)
  await Promise.all([copyFile(f.a.certFile, path.join(f.dir, 'cert.pem')), copyFile(f.a.keyFile, path.join(f.dir, 'key.pem'))])
  const config = await loadGatewayConfig(file)
  t.same(config.listen, { host: '127.0.0.1', port: 8443, tls: { cert: path.join(f.dir, 'cert.pem'), key: path.join(f.dir, 'key.pem') }, http2: true })
  t.same(config.redirects, [{ host: '127.0.0.1', port: 8080 }])

  const proc = new FakeCliProcess()
  t.equal(await main(['--help'], proc), 0)
  for (const text of ['tls:', 'cert:', 'key:', 'http2:', 'redirect: true', '308', 'new connections get the new certificate', 'GOAWAY']) {
    t.ok(proc.out.text.includes(text), text)
  }
})
