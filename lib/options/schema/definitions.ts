import { affinitySchema } from './affinity.js'
import { passiveSchema, retrySchema } from './failover.js'
import { healthCheckSchema } from './health-check.js'
import { resolverSchema, websocketSchema } from './sections.js'
import { targetsSchema } from './target.js'

// The sections every pool has, defined once and referred to from the top level, each named upstream
// and each route: ajv compiles each once instead of once per place it appears, and the published
// schema states each once.
export const definitions = {
  targets: targetsSchema,
  passive: passiveSchema,
  healthCheck: healthCheckSchema,
  retry: retrySchema,
  resolver: resolverSchema,
  websocket: websocketSchema,
  affinity: affinitySchema
} as const

export function ref<K extends keyof typeof definitions> (name: K) {
  return { $ref: `#/definitions/${name}` } as const
}
