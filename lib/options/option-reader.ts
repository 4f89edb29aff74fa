import { inspect } from 'node:util'
import { InvalidOptionError } from '../errors.js'

// Helpers of the readers that turn options, once the schema (lib/options/schema/) has checked their
// shape, into the normalised form; and the one way an option error is worded.

export type Plain = Record<string, unknown>

/** Renders a bad value for an error message: short, single line, never throws. */
export function show (value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 80 })
}

/** FST_LOLLY_INVALID_OPTION: `<path> must be <expectation>, got <value>`. */
export function invalid (path: string, expectation: string, value: unknown): Error {
  return new InvalidOptionError(`${path} must be ${expectation}, got ${show(value)}`)
}

export function isPlainObject (value: unknown): value is Plain {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** `object[key]`, or `fallback` when it is absent (the schema has checked what it holds). */
export function pick<T> (object: Plain, key: string, fallback: T): T {
  const value = object[key]
  return value === undefined ? fallback : value as T
}

/**
 * How one on/off section of the options reads: healthCheck, passive, retry, retry.budget, metrics,
 * status. `On` is the section's settings when on (T may add an "off" value, such as null).
 */
export interface Section<T, On extends T = T> {
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
  return section.read(value as Plain, join(path, key), section.on(inherited))
}

export function join (path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

// Keys written `.key` in a path; any other (`["bad name"]`, `["x-a"]`) is quoted, so paths read unambiguously.
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** `path` and `key` as our messages write them: `upstreams.api`, `upstreams["my-api"]`, `headers["x-a"]`. */
export function joinKey (path: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${path}[${JSON.stringify(key)}]`
  return join(path, key)
}
