import type { ErrorObject } from 'ajv'
import { InvalidOptionError } from '../errors.js'
import { didYouMean } from './did-you-mean.js'
import { invalid, joinKey, show } from './option-reader.js'

// Turns ajv's first error into FST_LOLLY_INVALID_OPTION in the project's words: the path as a user
// writes it (`upstreams.api.targets[1].weight`), the expectation the schema's `lollyExpect` gives,
// and the bad value; an unknown key with the known ones and the nearest of them.

type Schema = Record<string, any>
type Expectation = string | Record<string, string> | undefined

/** The expectation `schema` (or the definition it refers to) states for a failure of `keyword`. */
function expectation (schema: Schema | undefined, keyword: string, root: Schema): string | undefined {
  const target = typeof schema?.$ref === 'string' ? root.definitions[schema.$ref.slice('#/definitions/'.length)] : schema
  const expect = target?.lollyExpect as Expectation
  return typeof expect === 'string' || expect === undefined ? expect : expect[keyword] ?? expect.default
}

// Applicators that look at the same value as the schema holding them: an expectation is looked for
// up through these only, never past a `properties` or `items` (which look at a part of the value).
const SAME_VALUE = /^(?:if|then|else|not|(?:anyOf|oneOf|allOf)\/\d+)$/

type Chain = Array<{ schema: Schema, via: string }>

/** The schemas from the root down to the one holding the failed keyword, each with the step that led to it. */
function schemaChain (error: ErrorObject, root: Schema): Chain {
  const segments = error.schemaPath.slice(2).split('/').slice(0, -1)
  const chain: Chain = [{ schema: root, via: '' }]
  for (let i = 0; i < segments.length; i++) {
    const key = segments[i]
    const next = /^(?:anyOf|oneOf|allOf|properties|definitions)$/.test(key) ? `${key}/${segments[++i]}` : key
    const [a, b] = next.split('/')
    const schema = b === undefined ? chain[chain.length - 1].schema[a] : chain[chain.length - 1].schema[a][b]
    chain.push({ schema, via: next })
  }
  return chain
}

/**
 * What the failing schema (or the nearest enclosing one about the same value: an anyOf's or an
 * if/then's) expects, so that a branch's detail ("must be a string") reads as what the value was
 * meant to be ("'ip', 'url', 'header:NAME', 'cookie:NAME' or a function").
 */
function expectationOf (error: ErrorObject, chain: Chain, root: Schema): string | undefined {
  if (error.keyword === 'required') {
    const own = expectation(chain[chain.length - 1].schema.properties?.[error.params.missingProperty], 'required', root)
    if (own !== undefined) return own
  }
  // The root's `via` is '', not SAME_VALUE: the walk stops there at the latest.
  let i = chain.length - 1
  while (expectation(chain[i].schema, error.keyword, root) === undefined && SAME_VALUE.test(chain[i].via)) i--
  return expectation(chain[i].schema, error.keyword, root)
}

/** Where in `data` a JSON pointer leads: the path as written in messages (under `root`), and the value there. */
function locate (pointer: string, data: unknown, root: string): { path: string, value: unknown } {
  let path = root
  let value = data
  for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    path = Array.isArray(value) ? `${path}[${segment}]` : joinKey(path, segment)
    value = (value as Record<string, unknown>)[segment]
  }
  return { path, value }
}

/**
 * The error for a failed validation: ajv's first (innermost) failure, at its path, with the
 * expectation of the schema that failed or of the nearest enclosing one about the same value.
 */
export function optionError (errors: readonly ErrorObject[], schema: object, data: unknown, root: string, rootName: string): Error {
  const error = errors[0]
  const at = locate(error.instancePath, data, root)
  const chain = schemaChain(error, schema as Schema)
  if (error.keyword === 'additionalProperties') {
    const key = error.params.additionalProperty as string
    const known = Object.keys(chain[chain.length - 1].schema.properties)
    const near = didYouMean(key, known)
    return new InvalidOptionError(`${joinKey(at.path, key)} is not a known option (known: ${known.join(', ')})${near === undefined ? '' : `; did you mean ${near}?`}`)
  }
  if (error.propertyName !== undefined) {
    return invalid(joinKey(at.path, error.propertyName), expectationOf(error, chain, schema as Schema)!, error.propertyName)
  }
  const where = at.path === '' ? rootName : at.path
  if (error.keyword === 'required') {
    return invalid(joinKey(at.path, error.params.missingProperty as string), expectationOf(error, chain, schema as Schema)!, undefined)
  }
  const expect = expectationOf(error, chain, schema as Schema)
  // Every schema here states its expectation; ajv's own words are the fallback for one that does not.
  if (expect === undefined) return new InvalidOptionError(`${where} ${error.message as string}, got ${show(at.value)}`)
  return invalid(where, expect, at.value)
}
