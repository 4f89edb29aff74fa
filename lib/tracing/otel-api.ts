import type * as OtelApi from '@opentelemetry/api'

export type OtelApiModule = typeof OtelApi
export type ModuleLoader = (id: string) => unknown

/**
 * Loads @opentelemetry/api, an optional peer dependency, once at register: undefined when it is not
 * installed. Nothing is traced then, and nothing is lost: no OpenTelemetry SDK can be registered
 * without the api either. Any other failure to load it is a broken install, and says so.
 * `load` is there for tests.
 */
export function loadOtelApi (load: ModuleLoader = require): OtelApiModule | undefined {
  try {
    return load('@opentelemetry/api') as OtelApiModule
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND') return undefined
    throw err
  }
}
