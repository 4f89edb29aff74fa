import { spawn, type ChildProcess } from 'node:child_process'
import { Resolver } from 'node:dns/promises'
import fs from 'node:fs'
import path from 'node:path'
import { FaultSockets, freePort } from './dns-fault-sockets.js'
import {
  GENERATION_NAME, checkTtl, dnsmasqArgs, generationAddress, hostsFileText, normalizeRecords, serversFileText, srvArgs, writeAtomically,
  type DnsRecords, type NormalizedRecords
} from './dns-records.js'

/**
 * One dnsmasq of the harness (test/helpers/dnsmasq.ts, which starts it) and its lifecycle: its child
 * process (spawned, re-read on SIGHUP, restarted, killed), its temp directory and its fault sockets.
 */

export interface DnsServer {
  /** '127.0.0.1:PORT', for node:dns Resolver#setServers */
  readonly server: string
  readonly port: number
  /** its temp directory (removed by close) */
  readonly dir: string
  /** the running dnsmasq's pid, undefined while stopped */
  readonly pid: number | undefined
  readonly running: boolean
  /** what dnsmasq wrote to stderr (its log), the last 64 KiB */
  readonly log: string
  /** Replaces all records; resolves once dnsmasq serves them (SIGHUP, or a restart when SRV records changed). While stopped, start() serves them. */
  setRecords (records: DnsRecords): Promise<void>
  /** A new TTL for every answer (--local-ttl): restarts dnsmasq on the same port if it runs. */
  setTtl (seconds: number): Promise<void>
  /** Kills dnsmasq (the "server gone" case): queries get ECONNREFUSED or time out. Idempotent. */
  stop (): Promise<void>
  /** Starts dnsmasq again on the same port with the current records; resolves once it answers. No-op while running. */
  start (): Promise<void>
  /** Stops dnsmasq, closes the SERVFAIL/timeout sockets and removes the temp directory. Idempotent. */
  close (): Promise<void>
  /** A node:dns Resolver that asks this server only (default timeout 1000 ms, 1 try). */
  resolver (options?: { timeout?: number, tries?: number }): Resolver
}

const READY_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 2_000
const POLL_TIMEOUT_MS = 100
const LOG_LIMIT = 64 * 1024

const live = new Set<Dnsmasq>()
let exitHook = false

/** On exit (also after an uncaught error) no dnsmasq of ours is left running and no temp dir is left. */
function installExitHook (): void {
  if (exitHook) return
  exitHook = true
  process.on('exit', () => {
    for (const server of live) server.killNow()
  })
}

export function isExecutable (file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

export function findExecutable (name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']
  for (const dir of dirs) {
    if (dir === '') continue
    const file = path.join(dir, name)
    if (isExecutable(file)) return file
  }
  return undefined
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

export class Dnsmasq implements DnsServer {
  readonly dir: string
  private readonly binary: string
  private readonly hostsFile: string
  private readonly serversFile: string
  private readonly logQueries: boolean
  private records: NormalizedRecords
  private ttl: number
  private generation = 0
  private portNumber = 0
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private stderr = ''
  private readonly faults = new FaultSockets()
  private queue: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> | undefined
  private readonly checker = new Resolver({ timeout: POLL_TIMEOUT_MS, tries: 1 })

  constructor (binary: string, dir: string, records: NormalizedRecords, ttl: number, logQueries: boolean) {
    this.binary = binary
    this.dir = dir
    this.hostsFile = path.join(dir, 'records.hosts')
    this.serversFile = path.join(dir, 'servers.conf')
    this.records = records
    this.ttl = ttl
    this.logQueries = logQueries
    live.add(this)
    installExitHook()
  }

  get port (): number { return this.portNumber }
  get server (): string { return `127.0.0.1:${this.portNumber}` }
  get pid (): number | undefined { return this.child?.pid }
  get running (): boolean { return this.child !== undefined }
  get log (): string { return this.stderr }

  resolver (options: { timeout?: number, tries?: number } = {}): Resolver {
    const resolver = new Resolver({ timeout: options.timeout ?? 1000, tries: options.tries ?? 1 })
    resolver.setServers([this.server])
    return resolver
  }

  async setRecords (records: DnsRecords): Promise<void> {
    const normalized = normalizeRecords(records)
    await this.serially(async () => {
      const restart = srvArgs(normalized).join('\n') !== srvArgs(this.records).join('\n')
      this.records = normalized
      if (this.child === undefined) return
      if (restart) {
        await this.kill()
        await this.spawnReady()
      } else {
        await this.writeFiles()
        this.child.kill('SIGHUP')
        await this.waitForGeneration(this.child)
      }
    })
  }

  async setTtl (seconds: number): Promise<void> {
    const ttl = checkTtl(seconds)
    await this.serially(async () => {
      this.ttl = ttl
      if (this.child === undefined) return
      await this.kill()
      await this.spawnReady()
    })
  }

  stop (): Promise<void> {
    return this.serially(async () => { await this.kill() })
  }

  start (): Promise<void> {
    return this.serially(async () => {
      if (this.child === undefined) await this.spawnReady()
    })
  }

  close (): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closing = this.serially(async () => {
      await this.kill()
      await this.faults.close()
      fs.rmSync(this.dir, { recursive: true, force: true })
      live.delete(this)
    })
    return this.closing
  }

  /** For the exit hook: synchronous, best effort. */
  killNow (): void {
    if (this.child !== undefined) this.child.kill('SIGTERM')
    try { fs.rmSync(this.dir, { recursive: true, force: true }) } catch {}
  }

  private serially (step: () => Promise<void>): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new Error('dnsmasq harness: the server is closed'))
    const run = this.queue.then(step)
    this.queue = run.catch(() => {})
    return run
  }

  private async writeFiles (): Promise<void> {
    await this.faults.open(this.records.servfail.length > 0, this.records.timeout.length > 0)
    this.generation = (this.generation + 1) & 0xffff
    writeAtomically(this.hostsFile, hostsFileText(this.records, this.generation))
    writeAtomically(this.serversFile, serversFileText(this.records, this.faults))
  }

  /** Starts dnsmasq (on a new free port the first time, on its port afterwards) and waits until it answers. */
  private async spawnReady (): Promise<void> {
    await this.writeFiles()
    const firstStart = this.portNumber === 0
    for (let attempt = 1; ; attempt++) {
      if (this.portNumber === 0) this.portNumber = await freePort()
      const outcome = await this.spawnOnce(this.portNumber)
      if (outcome === 'ready') return
      if (firstStart && attempt < 10) {
        this.portNumber = 0
      } else if (!firstStart && attempt < 40) {
        await sleep(25)
      } else {
        const port = this.portNumber
        if (firstStart) this.portNumber = 0
        throw new Error(`dnsmasq harness: dnsmasq could not listen on 127.0.0.1:${port} (address in use):\n${this.stderr}`)
      }
    }
  }

  private async spawnOnce (port: number): Promise<'ready' | 'addrinuse'> {
    const args = dnsmasqArgs({ port, ttl: this.ttl, logQueries: this.logQueries, hostsFile: this.hostsFile, serversFile: this.serversFile, records: this.records })
    const setpriv = process.platform === 'linux' ? findExecutable('setpriv') : undefined
    // setpriv --pdeathsig: dnsmasq gets SIGTERM when this process dies, even by SIGKILL
    const [command, commandArgs] = setpriv !== undefined
      ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', this.binary, ...args]]
      : [this.binary, args]
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
    let spawnLog = ''
    let exitedWith: string | undefined
    this.child = child
    this.exited = new Promise<void>((resolve) => {
      const done = (how: string): void => {
        if (exitedWith !== undefined) return
        exitedWith = how
        if (this.child === child) this.child = undefined
        resolve()
      }
      child.once('exit', (code, signal) => done(signal !== null ? `signal ${signal}` : `code ${code}`))
      child.once('error', (err) => done(`error ${err.message}`))
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      spawnLog += chunk
      this.stderr = (this.stderr + chunk).slice(-LOG_LIMIT)
    })
    // the test process may exit without close(): the exit hook kills dnsmasq then
    child.unref()
    const stderr = child.stderr as unknown as { unref?: () => void } | null
    stderr?.unref?.()
    try {
      await this.waitForGeneration(child, () => exitedWith)
      return 'ready'
    } catch (err) {
      if (exitedWith === undefined) {
        await this.kill()
        throw err
      }
      await this.exited
      if (/Address already in use/i.test(spawnLog)) return 'addrinuse'
      throw new Error(`dnsmasq harness: dnsmasq exited (${exitedWith}) before answering: ${command} ${commandArgs.join(' ')}\n${spawnLog}`)
    }
  }

  /** Resolves once `child` answers with the current generation; rejects when it exits or after READY_TIMEOUT_MS. */
  private async waitForGeneration (child: ChildProcess, exitedWith?: () => string | undefined): Promise<void> {
    const expected = generationAddress(this.generation)
    this.checker.setServers([this.server])
    const until = Date.now() + READY_TIMEOUT_MS
    let last = 'no answer yet'
    for (;;) {
      const exit = exitedWith !== undefined ? exitedWith() : (this.child === child ? undefined : 'exit')
      if (exit !== undefined) throw new Error(`dnsmasq harness: dnsmasq exited (${exit})`)
      try {
        const addresses = await this.checker.resolve4(GENERATION_NAME)
        if (addresses.includes(expected)) return
        last = `generation ${addresses.join(',')} instead of ${expected}`
      } catch (err) {
        last = (err as NodeJS.ErrnoException).code ?? String(err)
      }
      if (Date.now() > until) throw new Error(`dnsmasq harness: dnsmasq on ${this.server} did not serve the new records within ${READY_TIMEOUT_MS} ms (${last}):\n${this.stderr}`)
      await sleep(5)
    }
  }

  /** Terminates dnsmasq (SIGTERM, SIGKILL after STOP_TIMEOUT_MS) and waits until it is gone. */
  private async kill (): Promise<void> {
    const child = this.child
    if (child === undefined) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }
}
