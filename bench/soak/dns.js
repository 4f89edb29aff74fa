'use strict'

// A dnsmasq child that serves one name on a loopback port, whose answer the soak changes. As the
// tests' harness (test/helpers/dnsmasq-server.ts) runs it: no system file read (/etc/dnsmasq.conf,
// /etc/hosts, /etc/resolv.conf), no upstream server, so nothing is ever forwarded; the name's A
// records come from a hosts file that a SIGHUP makes it read again.

const { spawn } = require('node:child_process')
const dgram = require('node:dgram')
const { Resolver } = require('node:dns/promises')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { findExecutable } = require('./netns.js')

const ZONE = 'soak.test'
const NAME = `api.${ZONE}`
const READY_MS = 10_000

/** A port free on 127.0.0.1 for both TCP and UDP, as dnsmasq takes both. */
async function freePort () {
  for (;;) {
    const server = net.createServer()
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = server.address().port
    const socket = dgram.createSocket('udp4')
    const free = await new Promise((resolve) => {
      socket.once('error', () => resolve(false))
      socket.bind(port, '127.0.0.1', () => resolve(true))
    })
    await new Promise((resolve) => socket.close(resolve))
    await new Promise((resolve) => server.close(resolve))
    if (free) return port
  }
}

class SoakDns {
  constructor (binary) {
    this.binary = binary
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lolly-soak-dns-'))
    this.hostsFile = path.join(this.dir, 'hosts')
    this.child = null
    this.port = 0
    this.log = ''
    this.addresses = []
  }

  get server () { return `127.0.0.1:${this.port}` }
  get name () { return NAME }

  async start (addresses) {
    this.write(addresses)
    this.port = await freePort()
    const args = [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-hosts', '--no-resolv', '--pid-file=',
      // As root it would become nobody, who cannot read our temp dir on SIGHUP.
      ...(process.getuid() === 0 ? ['--user=root', '--group=root'] : []),
      '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${this.port}`, '--log-facility=-',
      `--local=/${ZONE}/`, `--addn-hosts=${this.hostsFile}`,
      // TTL 1: the gateway looks the name up again every second (its resolver's minInterval).
      '--local-ttl=1'
    ]
    // --pdeathsig: dnsmasq goes when the soak does, however it ends. Detached: a terminal's ^C is the
    // gateway's to handle, not dnsmasq's.
    const setpriv = findExecutable('setpriv')
    this.child = setpriv === undefined
      ? spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
      : spawn(setpriv, ['--pdeathsig', 'SIGTERM', '--', this.binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    this.child.stderr.setEncoding('utf8')
    this.child.stderr.on('data', (chunk) => { this.log = (this.log + chunk).slice(-8192) })
    this.child.once('exit', () => { this.child = null })
    await this.answers(addresses)
  }

  /** Serves `addresses` from the next query on. */
  set (addresses) {
    this.write(addresses)
    this.child?.kill('SIGHUP')
  }

  write (addresses) {
    this.addresses = [...addresses]
    const file = `${this.hostsFile}.new`
    fs.writeFileSync(file, addresses.map((address) => `${address} ${NAME}\n`).join(''))
    fs.renameSync(file, this.hostsFile)
  }

  /** Resolves once dnsmasq answers `addresses`. */
  async answers (addresses) {
    const resolver = new Resolver({ timeout: 200, tries: 1 })
    resolver.setServers([this.server])
    const want = [...addresses].sort().join(',')
    const until = Date.now() + READY_MS
    for (;;) {
      if (this.child === null) throw new Error(`dnsmasq exited:\n${this.log}`)
      try {
        if ((await resolver.resolve4(NAME)).sort().join(',') === want) return
      } catch {}
      if (Date.now() > until) throw new Error(`dnsmasq on ${this.server} did not answer ${want} within ${READY_MS} ms:\n${this.log}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** For a hurried exit: synchronous, best effort. */
  killNow () {
    this.child?.kill('SIGTERM')
    fs.rmSync(this.dir, { recursive: true, force: true })
  }

  async close () {
    const child = this.child
    if (child !== null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Starts dnsmasq serving `addresses`, or returns why it cannot. */
async function startDns (addresses) {
  const binary = findExecutable('dnsmasq')
  if (binary === undefined) return { dns: null, why: 'dnsmasq is not installed (Debian: dnsmasq-base)' }
  const dns = new SoakDns(binary)
  try {
    await dns.start(addresses)
  } catch (err) {
    await dns.close()
    throw err
  }
  return { dns, why: null }
}

module.exports = { startDns }
