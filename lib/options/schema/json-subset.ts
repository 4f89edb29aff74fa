// The part of a schema a JSON or YAML file can satisfy: what remains once every value only code can
// give (`lollyKind`: a function, a RegExp, a registry) is left out. The config file's schema is the
// plugin's, through this, so the two cannot drift apart.

type Schema = Record<string, unknown>

// Keywords whose values are data, not schemas.
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'required', 'type', 'lollyExpect', 'description', 'title', 'pattern'])

function isSchemaObject (value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The JSON-expressible part of `schema`, or undefined when nothing of it can be written in JSON. */
export function jsonSubset (schema: Schema): Schema | undefined {
  if ('lollyKind' in schema) return undefined
  const out: Schema = {}
  for (const [key, value] of Object.entries(schema)) {
    if (DATA_KEYWORDS.has(key) || (!isSchemaObject(value) && !Array.isArray(value))) {
      out[key] = value
    } else if (key === 'properties' || key === 'definitions') {
      const kept: Schema = {}
      for (const [name, property] of Object.entries(value as Schema)) {
        const subset = jsonSubset(property as Schema)
        if (subset !== undefined) kept[name] = subset
        // An object that requires a key JSON cannot hold cannot be written at all (a `discover` entry).
        else if ((schema.required as string[] | undefined)?.includes(name) === true) return undefined
      }
      out[key] = kept
    } else if (key === 'anyOf') {
      const branches = (value as Schema[]).map(jsonSubset).filter((branch) => branch !== undefined)
      if (branches.length === 1) Object.assign(out, branches[0])
      else out[key] = branches
    } else {
      const subset = jsonSubset(value as Schema)
      if (subset !== undefined) out[key] = subset
    }
  }
  // if/then/else whose `then` JSON cannot hold: only the `else` remains.
  if ('if' in out && !('then' in out) && 'then' in schema) {
    const { if: _if, else: otherwise, ...rest } = out
    return { ...rest, ...(otherwise as Schema) }
  }
  return out
}
