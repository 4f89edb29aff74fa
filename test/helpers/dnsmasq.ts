import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { checkTtl, normalizeRecords, type DnsRecords } from './dns-records.js'
import { Dnsmasq, findExecutable, isExecutable, type DnsServer } from './dnsmasq-server.js'

export { DNS_ZONE, GENERATION_NAME, manyARecords, manyIPv4, type DnsRecords, type SrvRecord } from './dns-records.js'
export type { DnsServer } from './dnsmasq-server.js'

/**
 * A real DNS server for tests: Debian's dnsmasq, run as a child of the test process.
 *
 * It listens on 127.0.0.1 only (UDP and TCP, a free port picked at the first start and kept across
 * restarts) and answers from files in its own mkdtemp directory. It never reads /etc/dnsmasq.conf,
 * /etc/hosts or /etc/resolv.conf (`--conf-file=/dev/null --no-hosts --no-resolv`) and has no upstream
 * server, so it never forwards a query anywhere: a name under DNS_ZONE without records is NXDOMAIN at
 * once (`--local=/lolly.test/`), a name outside it is REFUSED at once, a type a name has no records
 * of is NODATA. The only forwarding is for the `servfail` and `timeout` names of DnsRecords, to UDP
 * sockets of this process on 127.0.0.1 (one answers SERVFAIL, one never answers).
 *
 * This file is the entry point and re-exports the rest: dnsmasq-server.ts runs one dnsmasq,
 * dns-records.ts checks the records and writes dnsmasq's command line and files, dns-fault-sockets.ts
 * holds the UDP sockets (a free port, the SERVFAIL and timeout upstreams).
 *
 * What dnsmasq does with its files (checked on dnsmasq 2.90, Debian 12):
 * - A/AAAA come from an --addn-hosts file, re-read on SIGHUP; the servfail/refused/timeout names
 *   from a --servers-file, re-read on SIGHUP too.
 * - SRV records are --srv-host options: SIGHUP never re-reads them (not even from a --conf-file),
 *   so a change of SRV records restarts dnsmasq on the same port, as does a new TTL (--local-ttl,
 *   which applies to A, AAAA and SRV answers; dnsmasq's default is 0).
 * - Every change is waited for: the hosts file carries a generation record (GENERATION_NAME, an
 *   address that changes with every change) and a change is applied once dnsmasq answers with the
 *   new generation. A start is ready the same way; there is no fixed sleep.
 * - 1000 A records for one name work: the UDP answer is truncated (TC) and node's resolver (c-ares)
 *   asks again over TCP, which dnsmasq answers in full (16 bytes an address, 64 KiB at most).
 */

export const DNSMASQ_MISSING = 'dnsmasq is not installed: apt-get install dnsmasq-base (Debian package); the DNS discovery tests need a real DNS server'

export interface DnsmasqOptions {
  /** TTL of every answer, in seconds (dnsmasq's --local-ttl); 0 by default, as in dnsmasq */
  ttl?: number
  /** dnsmasq logs every query into `log` */
  logQueries?: boolean
  /** the dnsmasq executable; by default the first `dnsmasq` on PATH, /usr/sbin, /sbin or /usr/local/sbin */
  dnsmasq?: string
}

export async function startDnsmasq (records: DnsRecords = {}, options: DnsmasqOptions = {}): Promise<DnsServer> {
  const binary = findDnsmasq(options.dnsmasq)
  const ttl = checkTtl(options.ttl ?? 0)
  const normalized = normalizeRecords(records)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lolly-dnsmasq-'))
  const server = new Dnsmasq(binary, dir, normalized, ttl, options.logQueries === true)
  try {
    await server.start()
  } catch (err) {
    await server.close()
    throw err
  }
  return server
}

function findDnsmasq (given: string | undefined): string {
  const found = given === undefined ? findExecutable('dnsmasq') : (isExecutable(given) ? given : undefined)
  if (found === undefined) throw new Error(given === undefined ? DNSMASQ_MISSING : `${DNSMASQ_MISSING} (no executable at ${given})`)
  return found
}
