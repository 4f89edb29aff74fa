import { invalid } from './option-reader.js'

/** An inclusive range of statuses. */
export interface StatusRange {
  from: number
  to: number
}

/** What one list of statuses in the options may hold, and how its errors say so. */
export interface StatusListSpec {
  /** The lowest and highest status an entry may name. */
  min: number
  max: number
  /** Whether ranges ('200-399') and classes ('2xx') are allowed besides single statuses. */
  ranges: boolean
  /** Whether the list may be empty. */
  empty: boolean
  /** The list and one entry, as error messages describe them. */
  list: string
  entry: string
}

const RANGE = /^(\d{3})(?:-(\d{3}))?$/
const CLASS = /^([1-5])xx$/i

/**
 * The one reader of status lists: health checks' `expect.status` (`[200, '300-399', '2xx']`),
 * `passive.statuses` and `retry.statuses` (single statuses within their bounds).
 */
export function readStatusList (value: unknown, path: string, spec: StatusListSpec): StatusRange[] {
  if (!Array.isArray(value) || (value.length === 0 && !spec.empty)) throw invalid(path, spec.list, value)
  return value.map((entry, i) => {
    const range = readEntry(entry, spec.ranges)
    if (range === undefined || range.from < spec.min || range.to > spec.max || range.from > range.to) {
      throw invalid(`${path}[${i}]`, spec.entry, entry)
    }
    return range
  })
}

/** The single statuses of a list read without ranges, each once. */
export function statusesOf (ranges: readonly StatusRange[]): number[] {
  return [...new Set(ranges.map((range) => range.from))]
}

function readEntry (entry: unknown, ranges: boolean): StatusRange | undefined {
  if (typeof entry === 'number') return Number.isInteger(entry) ? { from: entry, to: entry } : undefined
  if (!ranges || typeof entry !== 'string') return undefined
  const range = RANGE.exec(entry)
  if (range !== null) return { from: Number(range[1]), to: range[2] === undefined ? Number(range[1]) : Number(range[2]) }
  const klass = CLASS.exec(entry)
  return klass === null ? undefined : { from: Number(klass[1]) * 100, to: Number(klass[1]) * 100 + 99 }
}
