import { expect, test } from 'tstyche'
import type {
  AffinityOptions, BalancerName, DnsTargetOptions, HealthCheckOptions, LollyOptions, MetricsOptions, PassiveOptions, ProviderTargetOptions,
  ResolverOptions, RetryOptions, SrvTargetOptions, StatusOptions, TargetOptions, UpstreamOptions, WebSocketOptions
} from 'fastify-lolly'
import type { affinitySchema } from '../dist/options/schema/affinity.js'
import type { passiveSchema, retrySchema } from '../dist/options/schema/failover.js'
import type { healthCheckSchema } from '../dist/options/schema/health-check.js'
import type { pluginProperties } from '../dist/options/schema/plugin.js'
import type { metricsSchema, resolverSchema, statusSchema, websocketSchema } from '../dist/options/schema/sections.js'
import type { dnsEntry, providerEntry, srvEntry, targetSchema } from '../dist/options/schema/target.js'
import type { BALANCER_NAMES, upstreamSettingsProperties } from '../dist/options/schema/upstream.js'

// The public option types and the JSON Schema describe the same keys: a key added to one and not the
// other fails here (against the build, like the other type tests).

type Keys<S> = S extends { properties: infer P } ? keyof P : never

test('every section of the options has the same keys in its TypeScript type and in the schema', () => {
  expect<keyof LollyOptions>().type.toBe<keyof typeof pluginProperties>()
  expect<Exclude<keyof UpstreamOptions, 'targets'>>().type.toBe<keyof typeof upstreamSettingsProperties>()
  expect<keyof HealthCheckOptions>().type.toBe<Keys<typeof healthCheckSchema>>()
  expect<keyof RetryOptions>().type.toBe<Keys<typeof retrySchema>>()
  expect<keyof PassiveOptions>().type.toBe<Keys<typeof passiveSchema>>()
  expect<keyof WebSocketOptions>().type.toBe<Keys<typeof websocketSchema>>()
  expect<keyof ResolverOptions>().type.toBe<Keys<typeof resolverSchema>>()
  expect<keyof MetricsOptions>().type.toBe<Keys<typeof metricsSchema>>()
  expect<keyof StatusOptions>().type.toBe<Keys<typeof statusSchema>>()
  expect<keyof AffinityOptions>().type.toBe<Keys<typeof affinitySchema>>()
  expect<keyof AffinityOptions['cookie']>().type.toBe<Keys<typeof affinitySchema['properties']['cookie']>>()
  expect<keyof TargetOptions>().type.toBe<Keys<typeof targetSchema>>()
})

test('the schema\'s choices are the types\' unions', () => {
  expect<BalancerName>().type.toBe<typeof BALANCER_NAMES[number]>()
  expect<NonNullable<RetryOptions['on']>[number]>().type.toBe<typeof retrySchema['properties']['on']['items']['enum'][number]>()
  expect<NonNullable<HealthCheckOptions['method']>>().type.toBe<typeof healthCheckSchema['properties']['method']['enum'][number]>()
})

test('the discovery entries have the same keys in their types and in the schema', () => {
  expect<keyof DnsTargetOptions>().type.toBe<Keys<typeof dnsEntry>>()
  expect<keyof SrvTargetOptions>().type.toBe<Keys<typeof srvEntry>>()
  expect<keyof ProviderTargetOptions>().type.toBe<Keys<typeof providerEntry>>()
})

test('a key in the type and not in the schema would fail: the check is not vacuous', () => {
  expect<keyof RetryOptions>().type.not.toBe<Keys<typeof passiveSchema>>()
  expect<keyof HealthCheckOptions | 'extra'>().type.not.toBe<Keys<typeof healthCheckSchema>>()
})
