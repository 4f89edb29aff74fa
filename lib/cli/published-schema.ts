import { gatewaySchema } from './gateway-schema.js'

// The schema of the `lolly` file as the package publishes it (schema/lolly.schema.json, written by
// `npm run build`): what editors read to complete and check a file. draft-07, the draft
// yaml-language-server and VS Code's JSON support fully.

export const SCHEMA_FILE = 'schema/lolly.schema.json'

type Schema = Record<string, unknown>

/** Drops fastify-lolly's own keywords; an expectation becomes the message editors show for a pattern mismatch. */
function forEditors (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forEditors)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Schema = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'lollyExpect' || key === 'lollyPlain') continue
    // Data, not schemas: copied as they are (a `default` may hold a key named like a keyword).
    out[key] = key === 'default' || key === 'examples' || key === 'enum' || key === 'const' ? value : forEditors(value)
  }
  const expect = (schema as Schema).lollyExpect
  if (typeof expect === 'string' && 'pattern' in out) out.patternErrorMessage = `must be ${expect}`
  return out
}

export function publishedSchema (): Schema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...(forEditors(gatewaySchema) as Schema)
  }
}

/** The file's text: what `npm run build` writes and a test compares with the committed file. */
export function publishedSchemaText (): string {
  return `${JSON.stringify(publishedSchema(), null, 2)}\n`
}
