import type * as PromClient from 'prom-client'
import { PromClientMissingError } from '../errors.js'

export type PromClientModule = typeof PromClient
export type ModuleLoader = (id: string) => unknown

/**
 * Loads prom-client, an optional peer dependency, only when metrics are asked for; a missing one
 * fails register with FST_LOLLY_PROM_CLIENT_MISSING instead of a bare MODULE_NOT_FOUND.
 * `load` is there for tests.
 */
export function loadPromClient (load: ModuleLoader = require): PromClientModule {
  try {
    return load('prom-client') as PromClientModule
  } catch (err) {
    const missing = new PromClientMissingError((err as Error).message)
    missing.cause = err
    throw missing
  }
}
