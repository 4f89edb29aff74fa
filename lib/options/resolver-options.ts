import { isIP } from 'node:net'
import type { NormalizedResolver } from './types.js'
import { checkKeys, invalid, isPlainObject, join, readDuration, readInteger, type Plain } from './option-reader.js'

const RESOLVER_KEYS = ['servers', 'timeout', 'tries', 'minInterval', 'maxInterval', 'emptyGrace']
// `10.0.0.2:5353`, `[fd00::2]:53` (and bare addresses): what node:dns Resolver#setServers takes.
const SERVER_WITH_PORT = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/

export const DEFAULT_RESOLVER: NormalizedResolver = {
  servers: null,
  // c-ares' own default is 5 s × 4 tries: 20 s before a lookup of a dead server fails is 20 s of a
  // registry change not followed. 2 s × 2 bounds it at 4 s per server.
  timeout: 2_000,
  tries: 2,
  // TTL 0 (Consul's DNS default) would otherwise be a query per request: one lookup a second per
  // name per gateway is the floor.
  minInterval: 1_000,
  // nginx follows the TTL however long, Caddy refreshes every minute, HAProxy trusts an answer 10 s
  // (`hold valid`): 30 s bounds how stale a long TTL can leave the pool.
  maxInterval: 30_000,
  // A registry glitch (CoreDNS restarting, a Consul leader election) answers NXDOMAIN for seconds;
  // believing it at once turns the glitch into an outage (see lib/discovery/dns-source.ts).
  emptyGrace: 30_000
}

/** Reads `resolver` of an upstream (or of the top level) over what it inherits. */
export function readResolver (object: Plain, path: string, inherited: NormalizedResolver): NormalizedResolver {
  const value = object.resolver
  if (value === undefined) return inherited
  const where = join(path, 'resolver')
  if (!isPlainObject(value)) throw invalid(where, 'an object', value)
  checkKeys(value, RESOLVER_KEYS, where)
  const resolver: NormalizedResolver = {
    servers: value.servers === undefined ? inherited.servers : readServers(value.servers, `${where}.servers`),
    timeout: readDuration(value, 'timeout', where, inherited.timeout),
    tries: readInteger(value, 'tries', where, inherited.tries, { min: 1, max: 10 }),
    minInterval: readDuration(value, 'minInterval', where, inherited.minInterval),
    maxInterval: readDuration(value, 'maxInterval', where, inherited.maxInterval),
    emptyGrace: readDuration(value, 'emptyGrace', where, inherited.emptyGrace, 0)
  }
  if (resolver.maxInterval < resolver.minInterval) {
    throw invalid(`${where}.maxInterval`, `at least minInterval (${resolver.minInterval})`, resolver.maxInterval)
  }
  return resolver
}

function readServers (value: unknown, path: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(path, 'a non-empty array of DNS server addresses', value)
  return value.map((server, i) => {
    // An address, not a name: the resolver cannot resolve its own servers' names.
    if (typeof server !== 'string' || !isServerAddress(server)) {
      throw invalid(`${path}[${i}]`, 'an IP address with an optional port (10.0.0.2, 10.0.0.2:5353, [fd00::2]:53)', server)
    }
    return server
  })
}

function isServerAddress (server: string): boolean {
  if (isIP(server) !== 0) return true
  const match = SERVER_WITH_PORT.exec(server)
  if (match === null) return false
  const port = Number(match[3])
  return port >= 1 && port <= 65_535 && (match[1] === undefined ? isIP(match[2]) === 4 : isIP(match[1]) === 6)
}
