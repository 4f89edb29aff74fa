import { test } from 'tap'
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import fs from 'node:fs'
import path from 'node:path'
import { DNSMASQ_MISSING, manyARecords, manyIPv4, startDnsmasq, type DnsRecords } from './helpers/dnsmasq.js'

// The harness of the DNS discovery tests (test/helpers/dnsmasq.ts): a real dnsmasq on 127.0.0.1,
// asked through node's own dns.promises.Resolver, as the discovery code will be.

const RECORDS: DnsRecords = {
  a: { 'api.lolly.test': ['127.0.0.11', '127.0.0.12'], 'both.lolly.test': ['127.0.0.13'] },
  aaaa: { 'six.lolly.test': ['::1', 'fd00::12'], 'both.lolly.test': ['fd00::13'] },
  srv: [
    { name: '_http._tcp.api.lolly.test', target: 'api.lolly.test', port: 8080, priority: 10, weight: 5 },
    { name: '_http._tcp.api.lolly.test', target: 'both.lolly.test', port: 8081, priority: 20, weight: 1 }
  ]
}

async function failure (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    return String((err as NodeJS.ErrnoException).code)
  }
  return 'answered'
}

/** One EDNS-less UDP query for A records: whether the answer came truncated (TC) and how many records it held. */
async function udpQuery (server: string, name: string): Promise<{ truncated: boolean, answers: number }> {
  const [host, port] = server.split(':')
  const labels = name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]))
  const query = Buffer.concat([Buffer.from([0x4c, 0x4c, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])])
  const socket = dgram.createSocket('udp4')
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP answer within 1 s')), 1000)
      socket.on('message', (answer) => {
        clearTimeout(timer)
        resolve({ truncated: (answer[2] & 0x02) !== 0, answers: answer.readUInt16BE(6) })
      })
      socket.send(query, Number(port), host)
    })
  } finally {
    socket.close()
  }
}

/** Whether `pid` still runs (a zombie left to an init that does not reap does not count). */
function alive (pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** An SRV answer's records without the `type: 'SRV'` that Node 22+ adds to each. */
async function srvRecords (resolver: Resolver, name: string): Promise<Array<{ name: string, port: number, priority: number, weight: number }>> {
  return (await resolver.resolveSrv(name)).map(({ name, port, priority, weight }) => ({ name, port, priority, weight }))
}

test('A, AAAA and SRV answers, with the TTL that was set', async (t) => {
  const dns = await startDnsmasq(RECORDS, { ttl: 30 })
  t.teardown(() => dns.close())
  t.match(dns.server, /^127\.0\.0\.1:\d+$/)
  t.equal(dns.server, `127.0.0.1:${dns.port}`)
  t.not(dns.port, 53)
  const resolver = new Resolver({ timeout: 1000, tries: 1 })
  resolver.setServers([dns.server])
  t.same((await resolver.resolve4('api.lolly.test')).sort(), ['127.0.0.11', '127.0.0.12'])
  t.same(await resolver.resolve4('api.lolly.test', { ttl: true }).then((list) => list.map((entry) => entry.ttl)), [30, 30], 'resolve4 reports the TTL set')
  t.same((await resolver.resolve6('six.lolly.test')).sort(), ['::1', 'fd00::12'])
  t.same(await resolver.resolve6('six.lolly.test', { ttl: true }).then((list) => list.map((entry) => entry.ttl)), [30, 30])
  t.same(await resolver.resolve4('both.lolly.test'), ['127.0.0.13'])
  t.same(await resolver.resolve6('both.lolly.test'), ['fd00::13'])
  t.same((await resolver.resolve4('API.Lolly.Test.')).sort(), ['127.0.0.11', '127.0.0.12'], 'names are case-insensitive')
  const srv = await srvRecords(resolver, '_http._tcp.api.lolly.test')
  t.same(srv.sort((x, y) => x.priority - y.priority), [
    { name: 'api.lolly.test', port: 8080, priority: 10, weight: 5 },
    { name: 'both.lolly.test', port: 8081, priority: 20, weight: 1 }
  ])
})

test('NXDOMAIN, NODATA and REFUSED come at once and nothing is forwarded', async (t) => {
  const dns = await startDnsmasq(RECORDS)
  t.teardown(() => dns.close())
  const resolver = dns.resolver({ timeout: 2000 })
  const started = Date.now()
  t.equal(await failure(resolver.resolve4('nope.lolly.test')), 'ENOTFOUND', 'an unknown name in the zone is NXDOMAIN')
  t.equal(await failure(resolver.resolveSrv('_http._tcp.nope.lolly.test')), 'ENOTFOUND')
  t.equal(await failure(resolver.resolve6('api.lolly.test')), 'ENODATA', 'AAAA of an A-only name is NODATA')
  t.equal(await failure(resolver.resolve4('six.lolly.test')), 'ENODATA', 'A of an AAAA-only name is NODATA')
  t.equal(await failure(resolver.resolveSrv('api.lolly.test')), 'ENODATA', 'SRV of an A-only name is NODATA')
  t.equal(await failure(resolver.resolve4('_http._tcp.api.lolly.test')), 'ENODATA', 'A of an SRV-only name is NODATA')
  t.equal(await failure(resolver.resolve4('example.com')), 'EREFUSED', 'a name outside the zone is refused, not forwarded')
  t.equal(await failure(resolver.resolve4('localhost')), 'EREFUSED', '/etc/hosts is not read')
  t.ok(Date.now() - started < 1000, `eight negative answers within a second (${Date.now() - started} ms)`)
})

test('setRecords: A/AAAA changes by SIGHUP, SRV changes by a restart on the same port; setTtl', async (t) => {
  const dns = await startDnsmasq(RECORDS, { ttl: 5 })
  t.teardown(() => dns.close())
  const resolver = dns.resolver()
  const { server, pid } = dns

  await dns.setRecords({ ...RECORDS, a: { 'api.lolly.test': ['127.0.0.21'], 'new.lolly.test': ['127.0.0.22'] } })
  t.same(await resolver.resolve4('api.lolly.test'), ['127.0.0.21'], 'the new addresses right away')
  t.same(await resolver.resolve4('new.lolly.test'), ['127.0.0.22'], 'a new name right away')
  t.equal(await failure(resolver.resolve4('both.lolly.test')), 'ENODATA', 'a dropped A record is gone (the name still has AAAA)')
  t.equal(dns.pid, pid, 'no restart for A/AAAA changes')

  await dns.setRecords({ a: { 'api.lolly.test': ['127.0.0.21'] }, srv: [{ name: '_http._tcp.api.lolly.test', target: 'new.lolly.test', port: 9000 }] })
  t.same(await srvRecords(resolver, '_http._tcp.api.lolly.test'), [{ name: 'new.lolly.test', port: 9000, priority: 0, weight: 0 }], 'the new SRV records right away')
  t.equal(await failure(resolver.resolve6('six.lolly.test')), 'ENOTFOUND', 'a dropped name is NXDOMAIN')
  t.not(dns.pid, pid, 'SRV changes restart dnsmasq')
  t.equal(dns.server, server, 'on the same port')

  await dns.setTtl(120)
  t.same(await resolver.resolve4('api.lolly.test', { ttl: true }), [{ address: '127.0.0.21', ttl: 120 }])
  t.equal(dns.server, server)
})

test('stop() makes lookups fail, start() brings the server back with the current records', async (t) => {
  const dns = await startDnsmasq(RECORDS)
  t.teardown(() => dns.close())
  const resolver = dns.resolver({ timeout: 200, tries: 1 })
  const pid = dns.pid as number
  await dns.stop()
  await dns.stop()
  t.equal(dns.running, false)
  t.notOk(alive(pid), 'dnsmasq is gone')
  t.match(await failure(resolver.resolve4('api.lolly.test')), /^(ECONNREFUSED|ETIMEOUT)$/)
  await dns.setRecords({ a: { 'api.lolly.test': ['127.0.0.31'] } })
  t.equal(dns.running, false, 'setRecords does not start a stopped server')
  t.match(await failure(resolver.resolve4('api.lolly.test')), /^(ECONNREFUSED|ETIMEOUT)$/)
  await dns.start()
  await dns.start()
  t.equal(dns.running, true)
  t.same(await resolver.resolve4('api.lolly.test'), ['127.0.0.31'])
})

test('1000 A records for one name: truncated over UDP, all of them over TCP', async (t) => {
  const dns = await startDnsmasq({ a: manyARecords('many.lolly.test', 1000) })
  t.teardown(() => dns.close())
  const udp = await udpQuery(dns.server, 'many.lolly.test')
  t.ok(udp.truncated, 'the UDP answer is truncated')
  t.ok(udp.answers < 1000, `with ${udp.answers} records`)
  const answers = await dns.resolver({ timeout: 2000 }).resolve4('many.lolly.test')
  t.equal(answers.length, 1000)
  t.same(new Set(answers), new Set(manyIPv4(1000)), 'every address once')
})

test('SERVFAIL, REFUSED and timeout names, changed by setRecords', async (t) => {
  const dns = await startDnsmasq({ ...RECORDS, servfail: ['sick.lolly.test'], refused: ['closed.lolly.test'], timeout: ['slow.lolly.test'] })
  t.teardown(() => dns.close())
  const resolver = dns.resolver({ timeout: 200, tries: 1 })
  t.equal(await failure(resolver.resolve4('sick.lolly.test')), 'ESERVFAIL')
  t.equal(await failure(resolver.resolveSrv('_http._tcp.sick.lolly.test')), 'ESERVFAIL', 'for names under it and any type')
  t.equal(await failure(resolver.resolve4('closed.lolly.test')), 'EREFUSED')
  t.equal(await failure(resolver.resolve6('x.closed.lolly.test')), 'EREFUSED')
  t.equal(await failure(resolver.resolve4('slow.lolly.test')), 'ETIMEOUT')
  t.same(await resolver.resolve4('api.lolly.test').then((list) => list.length), 2, 'the other names answer')
  await dns.setRecords({ a: { 'sick.lolly.test': ['127.0.0.41'] }, refused: ['api.lolly.test'] })
  t.same(await resolver.resolve4('sick.lolly.test'), ['127.0.0.41'], 'healed')
  t.equal(await failure(resolver.resolve4('closed.lolly.test')), 'ENOTFOUND')
  t.equal(await failure(resolver.resolve4('api.lolly.test')), 'EREFUSED')
})

test('bad input and a missing dnsmasq fail loudly', async (t) => {
  await t.rejects(startDnsmasq({}, { dnsmasq: '/nonexistent/dnsmasq' }), { message: DNSMASQ_MISSING + ' (no executable at /nonexistent/dnsmasq)' })
  t.match(DNSMASQ_MISSING, /^dnsmasq is not installed: apt-get install dnsmasq/)
  await t.rejects(startDnsmasq({ a: { 'example.com': ['127.0.0.1'] } }), /not under lolly\.test/)
  await t.rejects(startDnsmasq({ a: { 'x.lolly.test': ['::1'] } }), /not an IPv4 address/)
  await t.rejects(startDnsmasq({ srv: [{ name: '_x._tcp.lolly.test', target: 'a,b', port: 1 }] }), /not a valid DNS name/)
  await t.rejects(startDnsmasq({ a: { 'x.bad.lolly.test': ['127.0.0.1'] }, servfail: ['bad.lolly.test'] }), /under the servfail\/refused\/timeout name/)
  const dns = await startDnsmasq({})
  await t.rejects(dns.setTtl(-1), RangeError)
  const { dir, pid } = dns
  await dns.close()
  await dns.close()
  t.notOk(fs.existsSync(dir), 'close removes the temp dir')
  t.notOk(alive(pid as number), 'close kills dnsmasq')
  await t.rejects(dns.start(), /closed/)
})

test('no dnsmasq is left behind when the test process exits without close() or is killed', async (t) => {
  const helper = path.join(__dirname, 'helpers', 'dnsmasq.ts')
  const script = `
    const { startDnsmasq } = require(${JSON.stringify(helper)})
    startDnsmasq({ a: { 'x.lolly.test': ['127.0.0.1'] } }).then((dns) => {
      process.stdout.write(JSON.stringify({ pid: dns.pid, server: dns.server, dir: dns.dir }) + '\\n')
      if (process.argv[1] === 'exit') process.exit(0)
      setInterval(() => {}, 1000)
    })`
  // what lets this process load .ts files (tap's TypeScript import), without tap's process tracking
  const typescript = process.execArgv.filter((arg) => arg.includes('typescript'))
  const loadTs = typescript.length > 0 ? typescript : process.execArgv
  const childEnv = { ...process.env }
  delete childEnv.NODE_OPTIONS
  async function run (how: 'exit' | 'kill'): Promise<{ pid: number, server: string, dir: string }> {
    const child = spawn(process.execPath, [...loadTs, '-e', script, how], { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv })
    let out = ''
    child.stdout.setEncoding('utf8')
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const started = await new Promise<{ pid: number, server: string, dir: string }>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk
        if (out.includes('\n')) resolve(JSON.parse(out))
      })
      child.once('exit', (code) => reject(new Error(`exited with ${code} before starting dnsmasq: ${out}`)))
    })
    if (how === 'kill') child.kill('SIGKILL')
    await exited // its exit hook has run
    for (let i = 0; i < 200 && alive(started.pid); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    return started
  }
  const [exited, killed] = await Promise.all([run('exit'), run('kill')])
  t.notOk(alive(exited.pid), 'exit without close(): dnsmasq is gone (exit hook)')
  t.notOk(fs.existsSync(exited.dir), 'and so is its temp dir')
  t.notOk(alive(killed.pid), 'SIGKILL: dnsmasq is gone (setpriv --pdeathsig)')
  fs.rmSync(killed.dir, { recursive: true, force: true })
  for (const { server } of [exited, killed]) {
    const resolver = new Resolver({ timeout: 200, tries: 1 })
    resolver.setServers([server])
    t.match(await failure(resolver.resolve4('x.lolly.test')), /^(ECONNREFUSED|ETIMEOUT)$/, `nothing answers on ${server}`)
  }
})
