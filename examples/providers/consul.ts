// A discovery provider for Consul: the passing instances of a service, followed with blocking
// queries on the health API. Copy it into your project and use it as one entry of `targets`:
//
//   import lolly from 'fastify-lolly'
//   import { consulService } from './consul.js'
//   await app.register(lolly, { targets: [consulService({ service: 'api' })], healthCheck: true })
//
// Each answer is the whole current set; fastify-lolly diffs it against the pool (a target that stays
// keeps its state and connections). An error is thrown: fastify-lolly keeps the last set, logs it
// once and calls `discover` again after a backoff (1 s doubling to 30 s), so nothing here retries.
import { setTimeout as sleep } from 'node:timers/promises'
import type { DiscoveredTarget, ProviderTargetOptions } from 'fastify-lolly'

export interface ConsulServiceOptions {
  /** The service's name in Consul's catalog. */
  service: string
  /** The Consul agent's HTTP API. Default `http://127.0.0.1:8500` (the local agent, as Consul advises). */
  address?: string
  /** ACL token, sent as X-Consul-Token. Default none. */
  token?: string
  /** Only instances with this tag. Default all. */
  tag?: string
  /** Datacenter. Default the agent's. */
  datacenter?: string
  /** Scheme of the targets. Default 'http'. */
  protocol?: 'http' | 'https'
  /**
   * Longest time Consul holds a blocking query open when nothing changes, ms. Default 240000 (4 min).
   * Consul adds up to wait / 16 of its own, and Node's fetch gives up on response headers after
   * 300 s (undici's headersTimeout): a 5 min wait (Consul's default) would fail every idle query.
   */
  wait?: number
  /** Least time between the starts of two queries, ms: a service changing many times a second is read at most once per this. Default 1000. */
  minInterval?: number
  /** Names the source in fastify-lolly's logs, events, snapshots and metrics. Default `consul:<service>`. */
  name?: string
  /** As every discovery entry's: most targets this source contributes (default 1000). */
  maxTargets?: number
  /** As every discovery entry's: how long a target that left stays, draining, ready to come back, ms (default 10000). */
  hold?: number
}

/** The parts of an entry of `/v1/health/service/<name>` this provider reads. */
interface ServiceEntry {
  Node: { Address: string }
  Service: { Address: string, Port: number, Weights?: { Passing: number, Warning: number } }
}

/** The passing instances of a Consul service, as a discovery entry of `targets`. */
export function consulService (options: ConsulServiceOptions): ProviderTargetOptions {
  const provider: ProviderTargetOptions = {
    name: options.name ?? `consul:${options.service}`,
    discover: ({ signal }) => watchService(options, signal)
  }
  if (options.maxTargets !== undefined) provider.maxTargets = options.maxTargets
  if (options.hold !== undefined) provider.hold = options.hold
  return provider
}

async function * watchService (options: ConsulServiceOptions, signal: AbortSignal): AsyncGenerator<DiscoveredTarget[]> {
  const wait = options.wait ?? 240_000
  const minInterval = options.minInterval ?? 1_000
  const headers: Record<string, string> = { accept: 'application/json' }
  if (options.token !== undefined) headers['x-consul-token'] = options.token
  // 0: the first query answers at once; after it, each query waits for an index past the last one.
  let index = 0
  let lastStart = -Infinity
  try {
    while (!signal.aborted) {
      // Consul's advice for blocking queries: rate-limit them, since an index can move many times a second.
      const pause = lastStart + minInterval - Date.now()
      if (pause > 0) await sleep(pause, undefined, { signal })
      lastStart = Date.now()

      const response = await fetch(queryUrl(options, index, wait), { headers, signal })
      if (response.status !== 200) {
        throw new Error(`consul: ${options.service}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`)
      }
      const header = response.headers.get('x-consul-index') ?? ''
      if (!/^\d{1,15}$/.test(header)) throw new Error(`consul: ${options.service}: no X-Consul-Index in the answer (is this a Consul agent?)`)
      const entries = await response.json() as ServiceEntry[]
      const next = Number(header)
      // The same index again: the wait elapsed with nothing new.
      const changed = index === 0 || next !== index
      // An index that goes backwards (a snapshot restore, a new cluster) starts over without blocking;
      // one below 1 would make every query return at once.
      index = next < index ? 0 : Math.max(next, 1)
      if (changed) yield toTargets(entries, options.protocol ?? 'http')
    }
  } catch (err) {
    // Aborted: the app is closing. Anything else is fastify-lolly's to log and to retry.
    if (signal.aborted) return
    throw err
  }
}

function queryUrl (options: ConsulServiceOptions, index: number, wait: number): string {
  const url = new URL(`/v1/health/service/${encodeURIComponent(options.service)}`, options.address ?? 'http://127.0.0.1:8500')
  url.searchParams.set('passing', 'true')
  if (options.tag !== undefined) url.searchParams.set('tag', options.tag)
  if (options.datacenter !== undefined) url.searchParams.set('dc', options.datacenter)
  if (index > 0) {
    url.searchParams.set('index', String(index))
    url.searchParams.set('wait', `${Math.ceil(wait / 1000)}s`)
  }
  return url.href
}

/** One target per instance, sorted by URL so every gateway reads the same list. */
function toTargets (entries: readonly ServiceEntry[], protocol: 'http' | 'https'): DiscoveredTarget[] {
  const targets = new Map<string, { url: string, weight: number }>()
  for (const { Node, Service } of entries) {
    // The service's own address when it registered one, else its node's.
    const address = Service.Address !== '' ? Service.Address : Node.Address
    const host = address.includes(':') ? `[${address}]` : address
    const url = `${protocol}://${host}:${Service.Port}`
    // Consul's weight of a passing instance (default 1) is the target's share of traffic.
    const weight = Math.min(Math.max(Math.trunc(Service.Weights?.Passing ?? 1), 1), 1_000_000)
    targets.set(url, { url, weight })
  }
  return [...targets.values()].sort((a, b) => a.url < b.url ? -1 : 1) // no two are equal
}
