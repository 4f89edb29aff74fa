import type { TargetOptions } from '../options/types.js'
import type { TargetChange } from './reload-plan.js'

/** The part of `app.lolly` a reload steers (lib/operator/lolly-api.ts). */
export interface TargetControl {
  addTarget (upstream: string, target: TargetOptions): unknown
  removeTarget (upstream: string, url: string): Promise<void>
  setWeight (upstream: string, url: string, weight: number): void
  enable (upstream: string, url: string): void
  disable (upstream: string, url: string): void
}

/**
 * Applies target changes to a running app. Adds, weights and enable/disable take effect at once;
 * removals (and the removal half of a replacement) first stop new traffic, then wait for the
 * target's in-flight requests, so nothing in flight is dropped. Resolves when all of it is done;
 * rejects with the first failure after every change was tried.
 */
export async function applyTargetChanges (control: TargetControl, changes: readonly TargetChange[], onApplied: (change: TargetChange) => void): Promise<void> {
  const waits: Array<Promise<void>> = []
  let failure: unknown
  for (const change of changes) {
    try {
      const wait = applyOne(control, change)
      if (wait === undefined) onApplied(change)
      else waits.push(wait.then(() => onApplied(change)))
    } catch (err) {
      failure ??= err
    }
  }
  const settled = await Promise.allSettled(waits)
  for (const result of settled) {
    if (result.status === 'rejected') failure ??= result.reason
  }
  if (failure !== undefined) throw failure
}

function applyOne (control: TargetControl, change: TargetChange): Promise<void> | undefined {
  switch (change.kind) {
    case 'add':
      control.addTarget(change.upstream, change.target)
      return undefined
    case 'weight':
      control.setWeight(change.upstream, change.url, change.weight)
      return undefined
    case 'enable':
      control.enable(change.upstream, change.url)
      return undefined
    case 'disable':
      control.disable(change.upstream, change.url)
      return undefined
    case 'remove':
      return control.removeTarget(change.upstream, change.url)
    case 'replace':
      return control.removeTarget(change.upstream, change.url).then(() => { control.addTarget(change.upstream, change.target) })
  }
}

/** One log line's worth: `added http://10.0.0.3:8080 to upstream api`. */
export function describeChange (change: TargetChange): string {
  const where = `upstream ${change.upstream}`
  switch (change.kind) {
    case 'add': return `added ${change.url} to ${where}`
    case 'remove': return `removed ${change.url} from ${where} (after its in-flight requests)`
    case 'replace': return `replaced ${change.url} of ${where} (backup, maxConnections or name changed)`
    case 'weight': return `set the weight of ${change.url} of ${where} to ${change.weight}`
    case 'enable': return `enabled ${change.url} of ${where}`
    case 'disable': return `disabled ${change.url} of ${where}`
  }
}
