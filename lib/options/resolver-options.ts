import { isIP } from 'node:net'
import type { NormalizedResolver } from './types.js'
import { invalid, join, pick, type Plain } from './option-reader.js'

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
  const value = object.resolver as Plain | undefined
  if (value === undefined) return inherited
  const where = join(path, 'resolver')
  const resolver: NormalizedResolver = {
    servers: value.servers === undefined ? inherited.servers : readServers(value.servers as string[], `${where}.servers`),
    timeout: pick(value, 'timeout', inherited.timeout),
    tries: pick(value, 'tries', inherited.tries),
    minInterval: pick(value, 'minInterval', inherited.minInterval),
    maxInterval: pick(value, 'maxInterval', inherited.maxInterval),
    emptyGrace: pick(value, 'emptyGrace', inherited.emptyGrace)
  }
  if (resolver.maxInterval < resolver.minInterval) {
    throw invalid(`${where}.maxInterval`, `at least minInterval (${resolver.minInterval})`, resolver.maxInterval)
  }
  return resolver
}

function readServers (value: string[], path: string): string[] {
  return value.map((server, i) => {
    // An address, not a name: the resolver cannot resolve its own servers' names.
    if (!isServerAddress(server)) {
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
