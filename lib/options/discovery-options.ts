import { isIP } from 'node:net'
import type { NormalizedProviderSource, NormalizedSource, NormalizedTarget, NormalizedTemplate } from './types.js'
import { invalid, pick, type Plain } from './option-reader.js'
import { schemaCheck } from './schema-check.js'
import { discoveredTargetSchema } from './schema/target.js'
import { readTarget, readTargetUrl } from './target-options.js'

// Far beyond any fleet one pool balances well, and small enough that one answer cannot grow a pool
// without bound (an answer of thousands of records is a misconfiguration more often than a fleet).
const DEFAULT_MAX_TARGETS = 1_000
// HAProxy's `hold obsolete` is 0 by default, which makes an address that one answer leaves out
// (round-robin DNS that answers a subset) lose its state and connections; 10 s rides that out.
const DEFAULT_HOLD = 10_000

const checkDiscoveredTarget = schemaCheck(discoveredTargetSchema, 'target')

/** Normalises a `dns`, `srv` or `discover` entry of a targets list (its shape checked by the schema). */
export function readSource (entry: Plain, path: string): NormalizedSource {
  if ('discover' in entry) return readProvider(entry)
  const shared = readShared(entry)
  const family = entry.family === 4 || entry.family === 6 ? entry.family : 0
  if ('dns' in entry) {
    const { origin, basePath } = readTargetUrl(entry.dns, `${path}.dns`)
    const url = new URL(origin)
    // An address needs no lookup: write it as a plain target.
    if (isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) throw invalid(`${path}.dns`, 'a URL with a host name (an address is a plain target)', entry.dns)
    const protocol = url.protocol as 'http:' | 'https:'
    const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port)
    return { type: 'dns', name: `dns:${origin}${basePath}`, hostname: url.hostname, protocol, port, basePath, family, template: readTemplate(entry), ...shared }
  }
  const service = entry.srv as string
  const protocol = `${pick(entry, 'protocol', 'http')}:` as 'http:' | 'https:'
  const basePath = pick(entry, 'basePath', '/').replace(/\/+$/, '')
  return { type: 'srv', name: `srv:${service}`, service, protocol, basePath, family, template: readTemplate(entry), ...shared }
}

/**
 * Validates one value a provider yielded: a URL or target options plus `state`. Discovered targets
 * keep `source`, so the pool knows who owns them.
 */
export function readDiscoveredTarget (input: unknown, path: string, source: string): { config: NormalizedTarget, draining: boolean } {
  checkDiscoveredTarget(input, path)
  if (typeof input === 'string') return { config: { ...readTarget(input, path), source }, draining: false }
  const { state, ...target } = input as Plain
  return { config: { ...readTarget(target, path), source }, draining: state === 'draining' }
}

function readProvider (entry: Plain): NormalizedProviderSource {
  return {
    type: 'discover',
    // Unnamed providers are told apart by their position (see readTargetEntries).
    name: pick(entry, 'name', ''),
    discover: entry.discover as NormalizedProviderSource['discover'],
    ...readShared(entry)
  }
}

/** What every kind of source has: its cap, and how long a target it stops listing stays. */
function readShared (entry: Plain): { maxTargets: number, hold: number } {
  return { maxTargets: pick(entry, 'maxTargets', DEFAULT_MAX_TARGETS), hold: pick(entry, 'hold', DEFAULT_HOLD) }
}

function readTemplate (entry: Plain): NormalizedTemplate {
  return { weight: pick(entry, 'weight', 1), backup: pick(entry, 'backup', false), maxConnections: pick(entry, 'maxConnections', 0) }
}
