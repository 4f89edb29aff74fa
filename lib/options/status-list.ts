import { invalid } from './option-reader.js'

/** An inclusive range of statuses. */
export interface StatusRange {
  from: number
  to: number
}

const RANGE = /^(\d{3})(?:-(\d{3}))?$/
const CLASS = /^([1-5])xx$/i

/**
 * Reads a health check's `expect.status` (`[200, '300-399', '2xx']`) into ranges. The schema has
 * checked the numbers and the strings' form; what a pattern cannot say (a range within min..max,
 * ascending) is checked here.
 */
export function readStatusList (value: ReadonlyArray<number | string>, path: string, min: number, max: number): StatusRange[] {
  return value.map((entry, i) => {
    if (typeof entry === 'number') return { from: entry, to: entry }
    const range = RANGE.exec(entry)
    const klass = CLASS.exec(entry)
    const parsed = range !== null
      ? { from: Number(range[1]), to: range[2] === undefined ? Number(range[1]) : Number(range[2]) }
      : { from: Number(klass![1]) * 100, to: Number(klass![1]) * 100 + 99 }
    if (parsed.from < min || parsed.to > max || parsed.from > parsed.to) {
      throw invalid(`${path}[${i}]`, `a status from ${min} to ${max}, a range 'from-to' or a class '2xx'`, entry)
    }
    return parsed
  })
}
