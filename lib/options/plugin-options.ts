import { InvalidOptionError } from '../errors.js'
import type { NormalizedOptions, NormalizedUpstream } from './types.js'
import { invalid, joinKey, pick, type Plain } from './option-reader.js'
import { DEFAULT_SETTINGS, readUpstream, readUpstreamSettings } from './upstream-options.js'
import { readMetricsOptions } from './metrics-options.js'
import { readStatusOptions } from './status-options.js'
import { readTracingOptions } from './tracing-options.js'
import { readReplyFromOptions, refuseReplyFromOption } from './reply-from-options.js'
import { schemaCheck } from './schema-check.js'
import { pluginSchema } from './schema/plugin.js'

const checkPluginOptions = schemaCheck(pluginSchema, 'options')

/** Validates the options given to `register` into the normalised form. Throws FST_LOLLY_INVALID_OPTION. */
export function readPluginOptions (input: unknown): NormalizedOptions {
  const options = (input ?? {}) as Plain
  if (typeof options === 'object') for (const key of Object.keys(options)) refuseReplyFromOption(key, options[key])
  checkPluginOptions(options)
  return normalizePluginOptions(options)
}

/** The normalised form of options the schema has checked: defaults, inheritance, and the rules across keys. */
export function normalizePluginOptions (options: Plain): NormalizedOptions {
  const upstreams = new Map<string, NormalizedUpstream>()
  if (options.targets !== undefined && options.upstreams !== undefined) {
    throw new InvalidOptionError('targets and upstreams cannot both be set: put the targets in a named upstream')
  }
  if (options.upstreams === undefined) {
    upstreams.set('default', readUpstream('default', options, '', DEFAULT_SETTINGS))
  } else {
    const defaults = readUpstreamSettings(options, '', DEFAULT_SETTINGS)
    for (const [name, upstream] of Object.entries(options.upstreams as Record<string, Plain>)) {
      upstreams.set(name, readUpstream(name, upstream, joinKey('upstreams', name), defaults))
    }
  }
  const first = upstreams.keys().next().value as string
  const defaultUpstream = pick(options, 'defaultUpstream', first)
  if (!upstreams.has(defaultUpstream)) {
    throw invalid('defaultUpstream', `the name of an upstream (${[...upstreams.keys()].join(', ')})`, defaultUpstream)
  }
  return {
    upstreams,
    defaultUpstream,
    xForwarded: pick(options, 'xForwarded', true),
    status: readStatusOptions(options, ''),
    metrics: readMetricsOptions(options, ''),
    tracing: readTracingOptions(options, ''),
    replyFrom: readReplyFromOptions(options)
  }
}
