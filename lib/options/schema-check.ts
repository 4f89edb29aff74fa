import type Ajv from 'ajv'
import type { ValidateFunction } from 'ajv'
import { isPlainObject } from './option-reader.js'
import { optionError } from './schema-errors.js'

// The one ajv of fastify-lolly: the option schemas (lib/options/schema/) compiled with it, each on
// its first use, so that requiring the plugin costs nothing until options are read.

let shared: Ajv | undefined

const KINDS: Readonly<Record<string, (data: unknown) => boolean>> = {
  function: (data) => typeof data === 'function',
  regexp: (data) => data instanceof RegExp,
  // Structural, so the package's code does not depend on prom-client, an optional peer dependency.
  registry: (data) => data !== null && typeof data === 'object' &&
    ['registerMetric', 'getSingleMetric', 'removeSingleMetric'].every((method) => typeof (data as Record<string, unknown>)[method] === 'function')
}

function compiler (): Ajv {
  if (shared !== undefined) return shared
  // Loaded on first use: requiring ajv alone takes 120 ms (Node 20, this machine under load), which
  // `require('fastify-lolly')` need not pay.
  const { default: AjvClass } = require('ajv') as typeof import('ajv')
  shared = new AjvClass({
    strict: true,
    // `required` in if/then/else names keys the enclosing schema's `properties` define.
    strictRequired: false,
    // Sections are `boolean | object` (on/off forms), targets `string | object`.
    allowUnionTypes: true,
    // Own keys only: an options object inheriting `targets` from its prototype is not a configuration.
    ownProperties: true,
    // Compile time is what the first register pays: the plugin schema took 125-290 ms to compile as
    // ajv's defaults have it, 50-75 ms without these two (Node 20, this machine). The meta-schema check
    // runs in the tests instead (test/options-schema.test.ts compiles the published schema with it),
    // and unoptimised code validates a typical options object as fast as before (~50 µs).
    validateSchema: false,
    code: { optimize: false }
  })
  shared.addKeyword({ keyword: 'lollyExpect', schemaType: ['string', 'object'] })
  shared.addKeyword({ keyword: 'lollyKind', schemaType: 'string', validate: (kind: string, data: unknown) => KINDS[kind](data) })
  // ownProperties reads own keys only, and `type: 'object'` takes any object: a class instance (or an
  // object inheriting keys) would pass with what its prototype holds unchecked, which the readers
  // would then see. Options are data: plain objects (or prototype-less ones), as before the schema.
  shared.addKeyword({ keyword: 'lollyPlain', schemaType: 'boolean', validate: (_: boolean, data: unknown) => data === null || typeof data !== 'object' || Array.isArray(data) || isPlainObject(data) })
  return shared
}

/**
 * A check of values against `schema`, compiled on its first call. It throws FST_LOLLY_INVALID_OPTION
 * naming the path under `root` (`rootName` when the value itself is wrong).
 */
export function schemaCheck (schema: object, rootName: string): (value: unknown, root?: string) => void {
  let validate: ValidateFunction | undefined
  return (value, root = '') => {
    validate ??= compiler().compile(schema)
    if (!validate(value)) throw optionError(validate.errors!, schema, value, root, root === '' ? rootName : root)
  }
}
