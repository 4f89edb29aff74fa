import type { Resolver } from 'node:dns/promises'
import type { NormalizedDnsSource, NormalizedSrvSource, NormalizedTarget } from '../options/types.js'
import { isEmptyAnswer, lookupAddresses } from './address-lookup.js'

// The pool's weight limit (lib/options/target-options.ts): an SRV weight times the entry's stays under it.
const MAX_WEIGHT = 1_000_000
// RFC 2782 weight 0 is "a very small chance" beside weighted records: 1 against 10 per unit of weight.
const SRV_WEIGHT_UNIT = 10

/** What one lookup of a source found: its targets, and the TTL that says when to look again (s; -1 when there are no targets). */
export interface DnsAnswer {
  targets: NormalizedTarget[]
  ttl: number
}

/** Looks up a `dns` or `srv` source once. Rejects when the lookup failed; an empty answer has no targets. */
export function lookUp (resolver: Resolver, source: NormalizedDnsSource | NormalizedSrvSource): Promise<DnsAnswer> {
  return source.type === 'dns' ? lookUpName(resolver, source) : lookUpService(resolver, source)
}

async function lookUpName (resolver: Resolver, source: NormalizedDnsSource): Promise<DnsAnswer> {
  const { addresses, ttl } = await lookupAddresses(resolver, source.hostname, source.family)
  const virtualHost = hostWithPort(source.hostname, source.protocol, source.port)
  const { weight, backup, maxConnections } = source.template
  const targets = addresses.map((address) => targetAt(source, address, source.port, virtualHost, weight, backup ? 1 : 0, maxConnections))
  return { targets, ttl }
}

/**
 * RFC 2782: every record's host is resolved; the lowest priority value makes the first tier, each
 * higher one the next. Node's resolveSrv does not report the SRV record's own TTL, so the hosts'
 * address answers (which a registry serves with the same TTL) say when to look again.
 */
async function lookUpService (resolver: Resolver, source: NormalizedSrvSource): Promise<DnsAnswer> {
  const records = await resolver.resolveSrv(source.service).catch((err: unknown) => {
    if (isEmptyAnswer(err)) return []
    throw err
  })
  // RFC 2782: a record with target "." (c-ares gives '') says the service is decidedly not available here.
  const usable = records.filter((record) => record.name !== '')
  const hosts = [...new Set(usable.map((record) => record.name))]
  const answers = await Promise.all(hosts.map((host) => lookupAddresses(resolver, host, source.family)))
  const byHost = new Map(hosts.map((host, i) => [host, answers[i]]))
  const priorities = [...new Set(usable.map((record) => record.priority))].sort((a, b) => a - b)
  const firstTier = source.template.backup ? 1 : 0
  const targets: NormalizedTarget[] = []
  let ttl = -1
  for (const record of usable) {
    const found = byHost.get(record.name)!
    // A host with no address has no TTL (-1) and adds no target.
    if (found.addresses.length > 0 && (ttl === -1 || found.ttl < ttl)) ttl = found.ttl
    const weight = Math.min(MAX_WEIGHT, source.template.weight * (record.weight === 0 ? 1 : record.weight * SRV_WEIGHT_UNIT))
    const tier = firstTier + priorities.indexOf(record.priority)
    const virtualHost = hostWithPort(record.name.replace(/\.$/, ''), source.protocol, record.port)
    for (const address of found.addresses) targets.push(targetAt(source, address, record.port, virtualHost, weight, tier, source.template.maxConnections))
  }
  return { targets, ttl }
}

function targetAt (source: NormalizedDnsSource | NormalizedSrvSource, address: string, port: number, virtualHost: string, weight: number, tier: number, maxConnections: number): NormalizedTarget {
  // Written as every target URL is (`[::1]`, no default port). c-ares gives addresses in their
  // canonical text form, the one URL would produce; building the string directly spares a URL parse
  // per address per lookup (a thousand of them every second for a large fleet).
  const origin = `${source.protocol}//${address.includes(':') ? `[${address}]` : address}${port === (source.protocol === 'https:' ? 443 : 80) ? '' : `:${port}`}`
  return { url: origin + source.basePath, origin, basePath: source.basePath, name: virtualHost, weight, backup: tier > 0, down: false, maxConnections, tier, virtualHost, source: source.name }
}

function hostWithPort (name: string, protocol: string, port: number): string {
  return port === (protocol === 'https:' ? 443 : 80) ? name : `${name}:${port}`
}
