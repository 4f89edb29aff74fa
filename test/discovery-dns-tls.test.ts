import fs from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { test } from 'tap'
import { startDnsmasq } from './helpers/dnsmasq.js'
import { findOpenssl, run } from './helpers/test-certs.js'
import type { DnsTlsCaseResult, DnsTlsClientInput } from './fixtures/dns-tls-client.js'

// `dns` targets over https with real certificates: the name of the entry (not the address it
// resolved to) is what the upstream sees as SNI and Host and what its certificate is checked
// against. A real CA and leaf certificates made by openssl, real https upstreams on 127.0.0.2, a
// real DNS server (dnsmasq on 127.0.0.1) answering secure.lolly.test -> 127.0.0.2. The app runs in
// a child process started with NODE_EXTRA_CA_CERTS=<the test CA> (the only way to make node trust
// a CA fastify-lolly has no `ca` option for); it loads lib/ through ts-node.

const NAME = 'secure.lolly.test'
const ADDRESS = '127.0.0.2'
const ROOT = path.join(__dirname, '..')
const CLIENT = path.join(__dirname, 'fixtures', 'dns-tls-client.ts')

/** ts-node's CommonJS hook (transpile only), the one tap itself uses for .ts files. */
function tsNodeRegister (): string {
  for (const id of ['@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only', 'ts-node/register/transpile-only']) {
    try {
      return require.resolve(id, { paths: [ROOT] })
    } catch {}
  }
  throw new Error('ts-node is not installed (it comes with tap): npm install')
}

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_secure]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:${NAME}
[leaf_other]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = DNS:other.lolly.test, IP:${ADDRESS}
`

interface Pki {
  dir: string
  /** the CA the client trusts (NODE_EXTRA_CA_CERTS) */
  caFile: string
  /** key and certificate PEMs */
  secure: { key: string, cert: string }
  other: { key: string, cert: string }
  untrusted: { key: string, cert: string }
}

/** A CA, a second CA nobody trusts, and three leaf certificates, all made by openssl in a temp dir. */
async function makePki (openssl: string): Promise<Pki> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lolly-dns-tls-'))
  const config = path.join(dir, 'openssl.cnf')
  fs.writeFileSync(config, OPENSSL_CONFIG)
  const file = (name: string): string => path.join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  let serial = 1
  const ca = async (name: string): Promise<void> => {
    await run(openssl, ['req', '-x509', '-new', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`),
      '-days', '2', '-subj', `/CN=fastify-lolly ${name}`, '-config', config, '-extensions', 'ca'])
  }
  const leaf = async (name: string, cn: string, extensions: string, signer: string): Promise<{ key: string, cert: string }> => {
    await run(openssl, ['req', '-new', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`, '-config', config])
    await run(openssl, ['x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${signer}.pem`), '-CAkey', file(`${signer}.key`),
      '-set_serial', String(serial++), '-days', '2', '-out', file(`${name}.pem`), '-extfile', config, '-extensions', extensions])
    return { key: fs.readFileSync(file(`${name}.key`), 'utf8'), cert: fs.readFileSync(file(`${name}.pem`), 'utf8') }
  }
  await ca('test-ca')
  await ca('untrusted-ca')
  return {
    dir,
    caFile: file('test-ca.pem'),
    secure: await leaf('secure', NAME, 'leaf_secure', 'test-ca'),
    // valid for the address, not the name: it is accepted only if the address were checked
    other: await leaf('other', 'other.lolly.test', 'leaf_other', 'test-ca'),
    untrusted: await leaf('untrusted', NAME, 'leaf_secure', 'untrusted-ca')
  }
}

interface Upstream {
  port: number
  /** SNI of every TLS handshake, from the ClientHello (undefined: none sent) */
  handshakes: Array<string | undefined>
  /** every HTTP request: the TLS server name of its connection and its Host header */
  requests: Array<{ servername: string | false | null | undefined, host: string | undefined }>
  close (): Promise<void>
}

async function startHttpsUpstream (label: string, credentials: { key: string, cert: string }): Promise<Upstream> {
  const handshakes: Upstream['handshakes'] = []
  const requests: Upstream['requests'] = []
  const context = tls.createSecureContext(credentials)
  const server = https.createServer({
    ...credentials,
    SNICallback: (servername, cb) => { handshakes.push(servername); cb(null, context) }
  }, (req, res) => {
    requests.push({ servername: (req.socket as tls.TLSSocket).servername, host: req.headers.host })
    res.end(`${label} ok`)
  })
  // a handshake without SNI never calls SNICallback: count it too
  server.on('secureConnection', (socket: tls.TLSSocket) => { if (!socket.servername) handshakes.push(undefined) })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, ADDRESS, () => { server.off('error', reject); resolve() })
  })
  return {
    port: (server.address() as AddressInfo).port,
    handshakes,
    requests,
    async close () {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

test('https dns targets: SNI, Host and certificate checks use the name, not the address', async (t) => {
  const started = Date.now()
  const openssl = findOpenssl()
  const register = tsNodeRegister()
  const pki = await makePki(openssl)
  t.teardown(() => fs.rmSync(pki.dir, { recursive: true, force: true }))
  const secure = await startHttpsUpstream('secure', pki.secure)
  t.teardown(() => secure.close())
  const other = await startHttpsUpstream('other', pki.other)
  t.teardown(() => other.close())
  const untrusted = await startHttpsUpstream('untrusted', pki.untrusted)
  t.teardown(() => untrusted.close())
  const dns = await startDnsmasq({ a: { [NAME]: [ADDRESS] } }, { ttl: 0 })
  t.teardown(() => dns.close())
  const setUp = Date.now() - started

  const input: DnsTlsClientInput = {
    name: NAME,
    dnsServer: dns.server,
    cases: [
      { label: 'right name', port: secure.port, requests: 2 },
      { label: 'wrong name', port: other.port, requests: 1 },
      { label: 'untrusted CA', port: untrusted.port, requests: 1 },
      { label: 'wrong name, verification off', port: other.port, requests: 1, options: { tlsRejectUnauthorized: false } }
    ]
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Out of the coverage count: the child compiles lib/ with its own ts-node, whose output does not
    // line up with tap's, and merged they would show functions of neither as not run.
    NODE_V8_COVERAGE: undefined,
    NODE_EXTRA_CA_CERTS: pki.caFile,
    TS_NODE_TRANSPILE_ONLY: '1',
    TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json')
  }
  const clientStarted = Date.now()
  // The entry point is required, not given as the main module: tap's process-info hook (an ESM
  // loader it adds to every child process) would take a .ts main module away from ts-node.
  const args = ['-r', register, '-e', `require(${JSON.stringify(CLIENT)})`, '--', JSON.stringify(input)]
  const stdout = await run(process.execPath, args, { cwd: ROOT, env, timeout: 60_000 })
  const clientTime = Date.now() - clientStarted
  const results = JSON.parse(stdout.trim().split('\n').pop() as string) as DnsTlsCaseResult[]
  const result = (label: string): DnsTlsCaseResult => results.find((r) => r.label === label) as DnsTlsCaseResult
  const host = (port: number): string => `${NAME}:${port}`

  // 1. the right certificate, from the trusted CA: 200, with the name as SNI and Host
  const right = result('right name')
  t.same(right.targets, [`https://${ADDRESS}:${secure.port}`], 'the name resolved to its address: the target is the address')
  t.same(right.answers.map((a) => [a.status, a.body]), [[200, 'secure ok'], [200, 'secure ok']], 'proxied over TLS, certificate verified')
  t.ok(secure.handshakes.length >= 1, 'at least one TLS handshake')
  t.same(new Set(secure.handshakes), new Set([NAME]), `every handshake carried SNI ${NAME}, never the address`)
  t.same(secure.requests, [{ servername: NAME, host: host(secure.port) }, { servername: NAME, host: host(secure.port) }],
    'each request came on a connection with SNI = the name, with Host = the name and port')

  // 2. a certificate of the trusted CA for another name (and for the address): refused
  const wrong = result('wrong name')
  t.equal(wrong.answers[0].status, 502, 'bad gateway')
  t.match(JSON.parse(wrong.answers[0].body), {
    statusCode: 502,
    code: 'FST_LOLLY_BAD_GATEWAY',
    message: `Upstream failed: ERR_TLS_CERT_ALTNAME_INVALID from https://${ADDRESS}:${other.port}`
  })
  t.match(wrong.answers[0].error, {
    code: 'FST_LOLLY_BAD_GATEWAY',
    causeCode: 'ERR_TLS_CERT_ALTNAME_INVALID',
    causeMessage: `Hostname/IP does not match certificate's altnames: Host: ${NAME}. is not in the cert's altnames: DNS:other.lolly.test, IP Address:${ADDRESS}`
  }, 'undici\'s error: the certificate was checked against the name although it is valid for the address')

  // the untrusted CA: refused too, so verification is on and the trust came from NODE_EXTRA_CA_CERTS
  const notTrusted = result('untrusted CA')
  t.equal(notTrusted.answers[0].status, 502)
  t.match(notTrusted.answers[0].error, { code: 'FST_LOLLY_BAD_GATEWAY', causeCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })
  t.same(untrusted.requests, [], 'no request reached the upstream of the untrusted CA')
  t.same(new Set(untrusted.handshakes), new Set([NAME]))

  // tlsRejectUnauthorized: false turns the check off: the same upstream answers
  const off = result('wrong name, verification off')
  t.same(off.answers.map((a) => [a.status, a.body]), [[200, 'other ok']])
  t.same(other.requests, [{ servername: NAME, host: host(other.port) }], 'the only request to reach it is the one with verification off')
  t.same(new Set(other.handshakes), new Set([NAME]), 'its handshakes carried SNI = the name as well')

  t.comment(`set-up ${setUp} ms (openssl, upstreams, dnsmasq), client process ${clientTime} ms, total ${Date.now() - started} ms`)
})
