// Builders of the leaf schemas every section shares. Each carries `lollyExpect`, the expectation an
// error about it prints ("must be a positive integer, got -1"), and `description` for editors.

/** The longest duration setTimeout takes (2^31 - 1 ms); longer ones would fire at once. */
export const MAX_DURATION = 2 ** 31 - 1

interface Doc { description?: string, default?: unknown, examples?: unknown[] }

function describeRange (what: string, min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER || max === MAX_DURATION) {
    return min === 0 ? `${what} >= 0` : min === 1 && what === 'an integer' ? 'a positive integer' : `${what} >= ${min}`
  }
  return `${what} from ${min} to ${max}`
}

export function integer (min: number, max: number, doc: Doc = {}, expect = describeRange('an integer', min, max)) {
  return { type: 'integer', minimum: min, maximum: max, lollyExpect: expect, ...doc } as const
}

export function number (min: number, max: number, doc: Doc = {}, expect = describeRange('a number', min, max)) {
  return { type: 'number', minimum: min, maximum: max, lollyExpect: expect, ...doc } as const
}

/** Milliseconds: a positive integer (0 allowed when `min` is 0) that setTimeout takes as given. */
export function duration (doc: Doc = {}, min = 1) {
  return integer(min, MAX_DURATION, doc)
}

export function boolean (doc: Doc = {}) {
  return { type: 'boolean', lollyExpect: 'a boolean', ...doc } as const
}

export function nonEmptyString (doc: Doc = {}) {
  return { type: 'string', minLength: 1, lollyExpect: 'a non-empty string', ...doc } as const
}

/** A string matching `pattern` (a RegExp's source, so the schema stays JSON). */
export function patterned (pattern: RegExp, expect: string, doc: Doc = {}) {
  return { type: 'string', pattern: pattern.source, lollyExpect: expect, ...doc } as const
}

export function choice<T extends string> (choices: readonly T[], doc: Doc = {}) {
  return { type: 'string', enum: choices, lollyExpect: `one of ${choices.map((c) => `'${c}'`).join(', ')}`, ...doc } as const
}

/** A value JSON cannot hold (a function, a RegExp, a registry), checked by the `lollyKind` keyword. */
export function kind (name: 'function' | 'regexp' | 'registry', expect: string, doc: Doc = {}) {
  return { lollyKind: name, lollyExpect: expect, ...doc } as const
}

/** An object with exactly these keys (any other is refused, with a "did you mean"). */
export function object<P extends Record<string, object>> (properties: P, expect = 'an object', doc: Doc = {}) {
  return { type: 'object', lollyPlain: true, lollyExpect: expect, properties, additionalProperties: false, ...doc } as const
}

/**
 * An on/off section (healthCheck, passive, retry, websocket, metrics, status): `false` turns it off,
 * `true` on with the inherited or default settings, an object sets some keys over those.
 */
export function section<P extends Record<string, object>> (properties: P, doc: Doc = {}) {
  return { type: ['boolean', 'object'], lollyPlain: true, lollyExpect: 'a boolean or an object', properties, additionalProperties: false, ...doc } as const
}
