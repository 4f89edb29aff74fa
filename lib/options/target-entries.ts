import type { NormalizedSource, NormalizedTarget } from './types.js'
import { readSource } from './discovery-options.js'
import { invalid, type Plain } from './option-reader.js'
import { readTarget } from './target-options.js'

/**
 * Reads `key` of `object` as a targets list: URLs and target objects (the static targets), and
 * `dns`, `srv` and `discover` entries (the sources). Neither a URL nor a source name may appear twice.
 */
export function readTargetEntries (object: Plain, key: string, path: string): { targets: NormalizedTarget[], sources: NormalizedSource[] } {
  const value = object[key] as Array<string | Plain>
  const where = `${path === '' ? '' : path + '.'}${key}`
  const targets: NormalizedTarget[] = []
  const sources: NormalizedSource[] = []
  const urls = new Set<string>()
  const targetNames = new Set<string>()
  const names = new Set<string>()
  let unnamed = 0
  for (let i = 0; i < value.length; i++) {
    const entry = value[i]
    const at = `${where}[${i}]`
    if (typeof entry !== 'string' && ('dns' in entry || 'srv' in entry || 'discover' in entry)) {
      const source = readSource(entry, at)
      // Unnamed providers: 'discover', 'discover#2', ...
      if (source.name === '') source.name = ++unnamed === 1 ? 'discover' : `discover#${unnamed}`
      if (names.has(source.name)) throw invalid(at, 'a source named once within its upstream', source.name)
      names.add(source.name)
      sources.push(source)
      continue
    }
    const target = readTarget(entry, at)
    if (urls.has(target.url)) throw invalid(at, 'unique within its upstream', target.url)
    urls.add(target.url)
    if (target.name !== null) {
      if (targetNames.has(target.name)) throw invalid(`${at}.name`, 'a target name used once within its upstream', target.name)
      targetNames.add(target.name)
    }
    targets.push(target)
  }
  return { targets, sources }
}
