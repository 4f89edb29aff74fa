import { isIP } from 'node:net'
import type { NormalizedProviderSource, NormalizedSource, NormalizedTarget, NormalizedTemplate } from './types.js'
import { checkKeys, invalid, isPlainObject, readBoolean, readChoice, readDuration, readInteger, readString, type Plain } from './option-reader.js'
import { readTarget, readTargetUrl, readWeight } from './target-options.js'

const SHARED_KEYS = ['maxTargets', 'hold']
const TEMPLATE_KEYS = ['weight', 'backup', 'maxConnections', 'family']
const DNS_KEYS = ['dns', ...TEMPLATE_KEYS, ...SHARED_KEYS]
const SRV_KEYS = ['srv', 'protocol', 'basePath', ...TEMPLATE_KEYS, ...SHARED_KEYS]
const PROVIDER_KEYS = ['discover', 'name', ...SHARED_KEYS]
// No `down`: a source says an instance is out with `state: 'draining'`, and `disable` is the operator's.
const DISCOVERED_KEYS = ['url', 'name', 'weight', 'backup', 'maxConnections', 'state']
// RFC 2782's service name: `_service._proto.name`.
const SRV_NAME = /^_[A-Za-z0-9-]{1,63}\._(?:tcp|udp|tls|sctp)\.(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/
const BASE_PATH = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*\/?$/
// Far beyond any fleet one pool balances well, and small enough that one answer cannot grow a pool
// without bound (an answer of thousands of records is a misconfiguration more often than a fleet).
const DEFAULT_MAX_TARGETS = 1_000
// HAProxy's `hold obsolete` is 0 by default, which makes an address that one answer leaves out
// (round-robin DNS that answers a subset) lose its state and connections; 10 s rides that out.
const DEFAULT_HOLD = 10_000

/** Whether a targets entry discovers targets (`dns`, `srv` or `discover`) instead of naming one. */
export function isSourceEntry (entry: Plain): boolean {
  return 'dns' in entry || 'srv' in entry || 'discover' in entry
}

/** Validates a `dns`, `srv` or `discover` entry of a targets list. */
export function readSource (entry: Plain, path: string): NormalizedSource {
  if ('discover' in entry) return readProvider(entry, path)
  const shared = readShared(entry, path)
  const family = readFamily(entry, path)
  if ('dns' in entry) {
    checkKeys(entry, DNS_KEYS, path)
    const { origin, basePath } = readTargetUrl(entry.dns, `${path}.dns`)
    const url = new URL(origin)
    // An address needs no lookup: write it as a plain target.
    if (isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) throw invalid(`${path}.dns`, 'a URL with a host name (an address is a plain target)', entry.dns)
    const protocol = url.protocol as 'http:' | 'https:'
    const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port)
    return { type: 'dns', name: `dns:${origin}${basePath}`, hostname: url.hostname, protocol, port, basePath, family, template: readTemplate(entry, path), ...shared }
  }
  checkKeys(entry, SRV_KEYS, path)
  const service = entry.srv
  if (typeof service !== 'string' || !SRV_NAME.test(service)) throw invalid(`${path}.srv`, 'an SRV name like _http._tcp.api.service.consul', service)
  const protocol = `${readChoice(entry, 'protocol', path, ['http', 'https'], 'http')}:` as const
  const basePath = readString(entry, 'basePath', path, '/')
  if (!basePath.startsWith('/') || !BASE_PATH.test(basePath)) throw invalid(`${path}.basePath`, 'a path starting with /', basePath)
  return { type: 'srv', name: `srv:${service}`, service, protocol, basePath: basePath.replace(/\/+$/, ''), family, template: readTemplate(entry, path), ...shared }
}

/**
 * Validates one value a provider yielded: a URL or target options plus `state`. Discovered targets
 * keep `source`, so the pool knows who owns them.
 */
export function readDiscoveredTarget (input: unknown, path: string, source: string): { config: NormalizedTarget, draining: boolean } {
  if (!isPlainObject(input)) return { config: { ...readTarget(input, path), source }, draining: false }
  checkKeys(input, DISCOVERED_KEYS, path)
  const draining = readChoice(input, 'state', path, ['ready', 'draining'], 'ready') === 'draining'
  const target = { ...input }
  delete target.state
  return { config: { ...readTarget(target, path), source }, draining }
}

function readProvider (entry: Plain, path: string): NormalizedProviderSource {
  checkKeys(entry, PROVIDER_KEYS, path)
  if (typeof entry.discover !== 'function') throw invalid(`${path}.discover`, 'a function ({ signal }) => AsyncIterable of target lists', entry.discover)
  return {
    type: 'discover',
    // Unnamed providers are told apart by their position (see readTargetEntries).
    name: readString(entry, 'name', path, ''),
    discover: entry.discover as NormalizedProviderSource['discover'],
    ...readShared(entry, path)
  }
}

/** What every kind of source has: its cap, and how long a target it stops listing stays. */
function readShared (entry: Plain, path: string): { maxTargets: number, hold: number } {
  return { maxTargets: readInteger(entry, 'maxTargets', path, DEFAULT_MAX_TARGETS, { min: 1, max: 100_000 }), hold: readDuration(entry, 'hold', path, DEFAULT_HOLD, 0) }
}

function readTemplate (entry: Plain, path: string): NormalizedTemplate {
  return {
    weight: readWeight(entry, path),
    backup: readBoolean(entry, 'backup', path, false),
    maxConnections: readInteger(entry, 'maxConnections', path, 0)
  }
}

function readFamily (entry: Plain, path: string): 0 | 4 | 6 {
  const value = entry.family
  if (value === undefined || value === 'both') return 0
  if (value === 4 || value === 6) return value
  throw invalid(`${path}.family`, "4, 6 or 'both'", value)
}
