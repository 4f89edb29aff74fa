import fs from 'node:fs'
import net from 'node:net'

/**
 * The records of the dnsmasq harness (test/helpers/dnsmasq.ts): their types, their validation and
 * normalisation, and what dnsmasq is given to serve them: its command line and its files (checked
 * on dnsmasq 2.90, Debian 12):
 * - A/AAAA go to an --addn-hosts file, re-read on SIGHUP; the servfail/refused/timeout names to a
 *   --servers-file, re-read on SIGHUP too.
 * - SRV records are --srv-host options: SIGHUP never re-reads them (not even from a --conf-file),
 *   so a change of SRV records restarts dnsmasq on the same port.
 * - The hosts file carries a generation record (GENERATION_NAME, an address that changes with every
 *   change), by which the harness sees which records dnsmasq serves.
 */

/** The zone every record lives in; dnsmasq answers for it only from its own records. */
export const DNS_ZONE = 'lolly.test'

/** A name outside DNS_ZONE that the harness uses to see which generation of records dnsmasq serves. */
export const GENERATION_NAME = 'generation.dnsmasq-harness.invalid'

export interface SrvRecord {
  /** the SRV owner name, e.g. `_http._tcp.api.lolly.test` (any name under DNS_ZONE) */
  name: string
  /** '.' is RFC 2782's "the service is decidedly not available at this domain" (a record with no target) */
  target: string
  port: number
  /** 0 when not given */
  priority?: number
  /** 0 when not given */
  weight?: number
}

/**
 * All of the server's records; setRecords replaces them all (nothing is merged). Every name must be
 * DNS_ZONE or under it. A name with an empty list has no records (NXDOMAIN).
 */
export interface DnsRecords {
  /** name -> IPv4 addresses */
  a?: Record<string, string[]>
  /** name -> IPv6 addresses */
  aaaa?: Record<string, string[]>
  srv?: SrvRecord[]
  /** names answered SERVFAIL, for every type, they and every name under them */
  servfail?: string[]
  /** names answered REFUSED, for every type, they and every name under them */
  refused?: string[]
  /** names never answered (the client times out), they and every name under them */
  timeout?: string[]
}

/** DnsRecords checked, names lower-case without a trailing dot, SRV priority and weight filled in. */
export interface NormalizedRecords {
  a: Array<[string, string[]]>
  aaaa: Array<[string, string[]]>
  srv: Array<Required<SrvRecord>>
  servfail: string[]
  refused: string[]
  timeout: string[]
}

/** The UDP ports on 127.0.0.1 that the servfail and the timeout names are forwarded to. */
export interface FaultPorts {
  readonly servfailPort: number
  readonly timeoutPort: number
}

/** `count` distinct IPv4 addresses 127.1.x.y (x = i / 256, y = i % 256), at most 65536. */
export function manyIPv4 (count: number, prefix = '127.1'): string[] {
  if (!Number.isInteger(count) || count < 0 || count > 65536) throw new RangeError(`manyIPv4: count ${count} is not in 0..65536`)
  const addresses: string[] = []
  for (let i = 0; i < count; i++) addresses.push(`${prefix}.${Math.floor(i / 256)}.${i % 256}`)
  return addresses
}

/** `{ [name]: manyIPv4(count) }`, for DnsRecords.a */
export function manyARecords (name: string, count: number): Record<string, string[]> {
  return { [name]: manyIPv4(count) }
}

const NAME = /^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/

export function checkTtl (seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 2147483647) throw new RangeError(`dnsmasq ttl must be an integer of seconds >= 0, not ${seconds}`)
  return seconds
}

function checkName (name: string, what: string, inZone = true): string {
  const lower = String(name).toLowerCase().replace(/\.$/, '')
  if (!NAME.test(lower) || lower.length > 253) throw new Error(`dnsmasq harness: ${what} ${JSON.stringify(name)} is not a valid DNS name`)
  if (inZone && lower !== DNS_ZONE && !lower.endsWith(`.${DNS_ZONE}`)) throw new Error(`dnsmasq harness: ${what} ${JSON.stringify(name)} is not under ${DNS_ZONE}`)
  return lower
}

function checkUint16 (value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new RangeError(`dnsmasq harness: ${what} ${value} is not an integer in 0..65535`)
  return value
}

function isUnder (name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`)
}

function normalizeAddresses (map: Record<string, string[]> | undefined, family: 4 | 6): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = []
  for (const [name, addresses] of Object.entries(map ?? {})) {
    const what = family === 4 ? 'A record name' : 'AAAA record name'
    for (const address of addresses) {
      if (net.isIP(address) !== family) throw new Error(`dnsmasq harness: ${JSON.stringify(address)} of ${name} is not an IPv${family} address`)
    }
    out.push([checkName(name, what), [...addresses]])
  }
  return out
}

export function normalizeRecords (records: DnsRecords): NormalizedRecords {
  const normalized: NormalizedRecords = {
    a: normalizeAddresses(records.a, 4),
    aaaa: normalizeAddresses(records.aaaa, 6),
    srv: (records.srv ?? []).map((srv) => ({
      name: checkName(srv.name, 'SRV name'),
      target: srv.target === '.' ? '.' : checkName(srv.target, 'SRV target', false),
      port: checkUint16(srv.port, 'SRV port'),
      priority: checkUint16(srv.priority ?? 0, 'SRV priority'),
      weight: checkUint16(srv.weight ?? 0, 'SRV weight')
    })),
    servfail: (records.servfail ?? []).map((name) => checkName(name, 'servfail name')),
    refused: (records.refused ?? []).map((name) => checkName(name, 'refused name')),
    timeout: (records.timeout ?? []).map((name) => checkName(name, 'timeout name'))
  }
  const withRecords = [...normalized.a.map(([name]) => name), ...normalized.aaaa.map(([name]) => name), ...normalized.srv.map((srv) => srv.name)]
  for (const broken of [...normalized.servfail, ...normalized.refused, ...normalized.timeout]) {
    if (broken === DNS_ZONE) throw new Error(`dnsmasq harness: the whole zone ${DNS_ZONE} cannot be a servfail/refused/timeout name`)
    const clash = withRecords.find((name) => isUnder(name, broken))
    if (clash !== undefined) throw new Error(`dnsmasq harness: ${clash} has records but is under the servfail/refused/timeout name ${broken}`)
  }
  return normalized
}

/** The --srv-host options of `records` (dnsmasq reads them at its start only). */
export function srvArgs (records: NormalizedRecords): string[] {
  return records.srv.map((srv) => srv.target === '.' ? `--srv-host=${srv.name}` : `--srv-host=${srv.name},${srv.target},${srv.port},${srv.priority},${srv.weight}`)
}

/** What one start of dnsmasq serves, and where. */
export interface DnsmasqConfig {
  port: number
  /** --local-ttl, seconds */
  ttl: number
  logQueries: boolean
  /** the --addn-hosts file (hostsFileText) */
  hostsFile: string
  /** the --servers-file (serversFileText) */
  serversFile: string
  records: NormalizedRecords
}

/** dnsmasq's command line for `config`: 127.0.0.1 only, no system file, no upstream, our records only. */
export function dnsmasqArgs (config: DnsmasqConfig): string[] {
  const { port } = config
  if (port < 1024) throw new Error(`dnsmasq harness: refusing port ${port}`)
  const asRoot = process.getuid !== undefined && process.getuid() === 0
  return [
    '--keep-in-foreground', // a child of ours, not a daemon
    '--conf-file=/dev/null', // never /etc/dnsmasq.conf (nor its conf-dir)
    '--no-hosts', // never /etc/hosts
    '--no-resolv', // never /etc/resolv.conf: no upstream server at all
    '--pid-file=', // no pid file
    // Stay root instead of becoming nobody/dip: the temp dir stays readable on SIGHUP, and the
    // parent-death signal set by setpriv survives (a change of uid or gid clears it).
    ...(asRoot ? ['--user=root', '--group=root'] : []),
    '--bind-interfaces',
    '--listen-address=127.0.0.1',
    `--port=${port}`,
    '--log-facility=-', // its log to stderr, collected in `log`
    ...(config.logQueries ? ['--log-queries'] : []),
    `--local=/${DNS_ZONE}/`, // the zone is answered from our records only: NXDOMAIN / NODATA, never forwarded
    `--addn-hosts=${config.hostsFile}`,
    `--servers-file=${config.serversFile}`,
    `--local-ttl=${config.ttl}`,
    ...srvArgs(config.records)
  ]
}

/** The address of GENERATION_NAME in generation `generation`. */
export function generationAddress (generation: number): string {
  return `127.255.${(generation >> 8) & 255}.${generation & 255}`
}

/** The --addn-hosts file of `records`: their A and AAAA records, and GENERATION_NAME. */
export function hostsFileText (records: NormalizedRecords, generation: number): string {
  const hosts: string[] = []
  for (const [name, addresses] of [...records.a, ...records.aaaa]) {
    for (const address of addresses) hosts.push(`${address} ${name}`)
  }
  hosts.push(`${generationAddress(generation)} ${GENERATION_NAME}`)
  return hosts.join('\n') + '\n'
}

/** The --servers-file of `records`: their refused names, and their servfail and timeout names forwarded to `faults`. */
export function serversFileText (records: NormalizedRecords, faults: FaultPorts): string {
  const servers: string[] = [
    // "use the standard servers", of which there are none: REFUSED at once
    ...records.refused.map((name) => `server=/${name}/#`),
    ...records.servfail.map((name) => `server=/${name}/127.0.0.1#${faults.servfailPort}`),
    ...records.timeout.map((name) => `server=/${name}/127.0.0.1#${faults.timeoutPort}`)
  ]
  return servers.join('\n') + '\n'
}

/** Writes `file` so that dnsmasq never reads half of it: a temp file renamed over it. */
export function writeAtomically (file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temp, text)
  fs.renameSync(temp, file)
}
