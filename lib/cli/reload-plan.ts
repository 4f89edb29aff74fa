import { isDeepStrictEqual } from 'node:util'
import type { NormalizedTarget, TargetOptions } from '../options/types.js'
import type { GatewayConfig, LogLevel } from './gateway-config.js'

/** One change to a running upstream's targets, applied through app.lolly. */
export type TargetChange =
  | { kind: 'add', upstream: string, url: string, target: TargetOptions }
  | { kind: 'remove', upstream: string, url: string }
  /** backup, maxConnections or name changed: the target is removed (after its in-flight requests) and added anew. */
  | { kind: 'replace', upstream: string, url: string, target: TargetOptions }
  | { kind: 'weight', upstream: string, url: string, weight: number }
  | { kind: 'enable' | 'disable', upstream: string, url: string }

/** What a reload would do: either target changes (and a log level) or, if anything else changed, nothing. */
export interface ReloadPlan {
  /** What changed that only a restart can apply; when not empty the reload is refused as a whole. */
  restartNeeded: string[]
  changes: TargetChange[]
  /** The new log level, when it changed. */
  logLevel: LogLevel | undefined
  /** The new shutdown timeout, when it changed. */
  shutdownTimeout: number | undefined
}

/**
 * Compares the running configuration with a newly read one. Targets are compared by their
 * normalised URL, so unchanged ones keep their state, counters and keep-alive connections.
 * Everything else (listen address, routes, upstreams and their settings) is wired into the app
 * when it is built: a change there needs a restart, and the reload is refused rather than half-applied.
 */
export function planReload (current: GatewayConfig, next: GatewayConfig): ReloadPlan {
  const restartNeeded: string[] = []
  if (!isDeepStrictEqual(listenShape(current), listenShape(next))) restartNeeded.push('listen')
  if (!isDeepStrictEqual(current.trustProxy, next.trustProxy)) restartNeeded.push('trustProxy')
  if (!isDeepStrictEqual(current.routes, next.routes)) restartNeeded.push('routes')
  // Settings are compared as written: the normalised forms may hold functions that never compare equal.
  restartNeeded.push(...changedKeys(current.plugin, next.plugin, ['targets', 'upstreams'], ''))

  const before = current.normalized.upstreams
  const after = next.normalized.upstreams
  const added = [...after.keys()].filter((name) => !before.has(name))
  const removed = [...before.keys()].filter((name) => !after.has(name))
  if (added.length > 0) restartNeeded.push(`upstreams added (${added.join(', ')})`)
  if (removed.length > 0) restartNeeded.push(`upstreams removed (${removed.join(', ')})`)

  const changes: TargetChange[] = []
  const currentNamed = namedUpstreams(current)
  const nextNamed = namedUpstreams(next)
  for (const [name, upstream] of after) {
    const old = before.get(name)
    if (old === undefined) continue
    restartNeeded.push(...changedKeys(currentNamed[name] ?? {}, nextNamed[name] ?? {}, ['targets'], `upstreams.${name}.`))
    // Discovered targets follow their sources and keep their state through a reload; a source that
    // changed is started anew, which only a restart does.
    if (!isDeepStrictEqual(old.sources, upstream.sources)) restartNeeded.push(`upstreams.${name}.targets (dns or srv entries changed)`)
    changes.push(...diffTargets(name, old.targets, upstream.targets))
  }

  return {
    restartNeeded,
    changes,
    logLevel: current.logLevel === next.logLevel ? undefined : next.logLevel,
    shutdownTimeout: current.shutdownTimeout === next.shutdownTimeout ? undefined : next.shutdownTimeout
  }
}

/** The target changes that turn `before` into `after`: adds first, then updates, then removals. */
export function diffTargets (upstream: string, before: readonly NormalizedTarget[], after: readonly NormalizedTarget[]): TargetChange[] {
  const old = new Map(before.map((target) => [target.url, target]))
  const kept = new Set<string>()
  const adds: TargetChange[] = []
  const updates: TargetChange[] = []
  for (const target of after) {
    const previous = old.get(target.url)
    if (previous === undefined) {
      adds.push({ kind: 'add', upstream, url: target.url, target: targetOptions(target) })
      continue
    }
    kept.add(target.url)
    if (previous.backup !== target.backup || previous.maxConnections !== target.maxConnections || previous.name !== target.name) {
      updates.push({ kind: 'replace', upstream, url: target.url, target: targetOptions(target) })
      continue
    }
    if (previous.weight !== target.weight) updates.push({ kind: 'weight', upstream, url: target.url, weight: target.weight })
    if (previous.down !== target.down) updates.push({ kind: target.down ? 'disable' : 'enable', upstream, url: target.url })
  }
  const removes: TargetChange[] = before
    .filter((target) => !kept.has(target.url))
    .map((target) => ({ kind: 'remove', upstream, url: target.url }))
  return [...adds, ...updates, ...removes]
}

function targetOptions (target: NormalizedTarget): TargetOptions {
  const options: TargetOptions = { url: target.url, weight: target.weight, backup: target.backup, down: target.down, maxConnections: target.maxConnections }
  if (target.name !== null) options.name = target.name
  return options
}

/**
 * Where and how the gateway listens, less the certificate and key file names: those are read again
 * on every reload and the new certificate applied live, as nginx does on SIGHUP. Turning TLS on or
 * off changes the server the app was built with: a restart.
 */
function listenShape (config: GatewayConfig): unknown {
  return [{ ...config.listen, tls: config.listen.tls !== null }, config.redirects]
}

/** The named upstreams of the file as written (`upstreams`), or the single one at the top ('default'). */
function namedUpstreams (config: GatewayConfig): Record<string, Record<string, unknown>> {
  return (config.plugin.upstreams as Record<string, Record<string, unknown>> | undefined) ?? {}
}

/** Keys (other than `ignored`) whose values differ between `a` and `b`, prefixed with `path`. */
function changedKeys (a: Record<string, unknown>, b: Record<string, unknown>, ignored: readonly string[], path: string): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  const changed: string[] = []
  for (const key of keys) {
    if (!ignored.includes(key) && !isDeepStrictEqual(a[key], b[key])) changed.push(path + key)
  }
  return changed
}
