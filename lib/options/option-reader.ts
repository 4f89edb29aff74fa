import { inspect } from 'node:util'
import { InvalidOptionError } from '../errors.js'

// Helpers that turn a user's option object into the normalised form, failing with
// FST_LOLLY_INVALID_OPTION and the exact path of the bad key (`upstreams.api.targets[1].weight`).

export type Plain = Record<string, unknown>

/** Renders a bad value for an error message: short, single line, never throws. */
export function show (value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 80 })
}

export function invalid (path: string, expectation: string, value: unknown): Error {
  return new InvalidOptionError(`${path} must be ${expectation}, got ${show(value)}`)
}

export function isPlainObject (value: unknown): value is Plain {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Fails on keys that are not in `allowed`, so a typo (`helthCheck`) is an error instead of a no-op. */
export function checkKeys (object: Plain, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      const where = path === '' ? key : `${path}.${key}`
      throw new InvalidOptionError(`${where} is not a known option (known: ${allowed.join(', ')})`)
    }
  }
}

/**
 * How one on/off section of the options reads: healthCheck, passive, retry, retry.budget, metrics,
 * status. `On` is the section's settings when on (T may add an "off" value, such as null).
 */
export interface Section<T, On extends T = T> {
  /** Its keys: any other is an error naming its path. */
  readonly keys: readonly string[]
  /** What it is once turned off (`false`). */
  off (inherited: T): T
  /** What `true` means, and what an object's keys are read over: the inherited settings, or the defaults when those are off. */
  on (inherited: T): On
  /** Reads an object's keys over `base`. */
  read (object: Plain, path: string, base: On): On
}

/**
 * Reads the on/off section `key` of `object` over what it inherits (an upstream from the top level, a
 * route from its upstream): absent keeps the inherited settings, `false` turns it off, `true` turns it
 * on, and an object sets some keys over what `true` would give.
 */
export function readSection<T, On extends T> (object: Plain, key: string, path: string, inherited: T, section: Section<T, On>): T {
  const value = object[key]
  if (value === undefined) return inherited
  if (value === false) return section.off(inherited)
  if (value === true) return section.on(inherited)
  const where = join(path, key)
  if (!isPlainObject(value)) throw invalid(where, 'a boolean or an object', value)
  checkKeys(value, section.keys, where)
  return section.read(value, where, section.on(inherited))
}

export function readObject (value: unknown, path: string): Plain {
  if (!isPlainObject(value)) throw invalid(path, 'an object', value)
  return value
}

export function join (path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

export function readBoolean (object: Plain, key: string, path: string, fallback: boolean): boolean {
  const value = object[key]
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(join(path, key), 'a boolean', value)
  return value
}

interface IntegerBounds { min?: number, max?: number }

export function readInteger (object: Plain, key: string, path: string, fallback: number, bounds: IntegerBounds = {}): number {
  const value = object[key]
  if (value === undefined) return fallback
  const min = bounds.min ?? 0
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(join(path, key), describeRange('an integer', min, max), value)
  }
  return value
}

export function readNumber (object: Plain, key: string, path: string, fallback: number, min: number, max: number): number {
  const value = object[key]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(join(path, key), describeRange('a number', min, max), value)
  }
  return value
}

/** A duration in milliseconds: a non-negative integer (0 allowed only when `min` is 0). */
export function readDuration (object: Plain, key: string, path: string, fallback: number, min = 1): number {
  return readInteger(object, key, path, fallback, { min, max: 2 ** 31 - 1 })
}

export function readString (object: Plain, key: string, path: string, fallback: string): string {
  const value = object[key]
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value === '') throw invalid(join(path, key), 'a non-empty string', value)
  return value
}

export function readChoice<T extends string> (object: Plain, key: string, path: string, choices: readonly T[], fallback: T): T {
  const value = object[key]
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalid(join(path, key), `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value)
  }
  return value as T
}

function describeRange (what: string, min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER || max === 2 ** 31 - 1) {
    return min === 0 ? `${what} >= 0` : min === 1 && what === 'an integer' ? 'a positive integer' : `${what} >= ${min}`
  }
  return `${what} from ${min} to ${max}`
}
