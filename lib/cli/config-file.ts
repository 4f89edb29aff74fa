import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigFileError } from '../errors.js'

/**
 * Reads a configuration file and parses it by its extension: `.json` as JSON, `.yaml` and `.yml`
 * as YAML 1.2 (core schema: no dates, no custom tags, duplicate keys are an error). Returns
 * whatever the file holds; checking it is the gateway config reader's job.
 */
export async function readConfigFile (file: string): Promise<unknown> {
  const format = formatOf(file)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigFileError(file, `cannot be read: ${(err as Error).message}`)
  }
  return parseConfigText(text, format, file)
}

export type ConfigFormat = 'json' | 'yaml'

export function formatOf (file: string): ConfigFormat {
  const ext = extname(file).toLowerCase()
  if (ext === '.json') return 'json'
  if (ext === '.yaml' || ext === '.yml') return 'yaml'
  throw new ConfigFileError(file, 'must end with .json, .yaml or .yml (the extension says how to parse it)')
}

export function parseConfigText (text: string, format: ConfigFormat, file: string): unknown {
  try {
    return format === 'json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true })
  } catch (err) {
    throw new ConfigFileError(file, `is not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`)
  }
}
