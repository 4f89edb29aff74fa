import { InvalidOptionError } from '../errors.js'
import type { NormalizedOptions, NormalizedUpstream } from './types.js'
import { checkKeys, invalid, readBoolean, readObject, readString } from './option-reader.js'
import { DEFAULT_SETTINGS, UPSTREAM_SETTING_KEYS, readUpstream, readUpstreamSettings } from './upstream-options.js'
import { readMetricsOptions } from './metrics-options.js'
import { readStatusOptions } from './status-options.js'
import { readTracingOptions } from './tracing-options.js'
import { REPLY_FROM_KEYS, readReplyFromOptions, refuseReplyFromOption } from './reply-from-options.js'

const PLUGIN_KEYS = ['targets', 'upstreams', 'defaultUpstream', 'xForwarded', 'status', 'metrics', 'tracing', ...REPLY_FROM_KEYS, ...UPSTREAM_SETTING_KEYS]
const NAMED_UPSTREAM_KEYS = ['targets', ...UPSTREAM_SETTING_KEYS]
// Upstream names appear in snapshots, logs, metrics labels and URLs of the status page.
const UPSTREAM_NAME = /^[A-Za-z0-9_.-]{1,64}$/

/** Validates the options given to `register` into the normalised form. Throws FST_LOLLY_INVALID_OPTION. */
export function readPluginOptions (input: unknown): NormalizedOptions {
  const options = readObject(input ?? {}, 'options')
  for (const key of Object.keys(options)) refuseReplyFromOption(key, options[key])
  checkKeys(options, PLUGIN_KEYS, '')
  const upstreams = new Map<string, NormalizedUpstream>()

  if (options.targets !== undefined && options.upstreams !== undefined) {
    throw new InvalidOptionError('targets and upstreams cannot both be set: put the targets in a named upstream')
  }
  if (options.upstreams === undefined) {
    upstreams.set('default', readUpstream('default', options, '', DEFAULT_SETTINGS))
  } else {
    const defaults = readUpstreamSettings(options, '', DEFAULT_SETTINGS)
    const named = readObject(options.upstreams, 'upstreams')
    const names = Object.keys(named)
    if (names.length === 0) throw invalid('upstreams', 'an object with at least one upstream', named)
    for (const name of names) {
      const path = `upstreams.${name}`
      if (!UPSTREAM_NAME.test(name)) throw invalid(path, 'named with letters, digits, _ . - (at most 64)', name)
      const object = readObject(named[name], path)
      checkKeys(object, NAMED_UPSTREAM_KEYS, path)
      upstreams.set(name, readUpstream(name, object, path, defaults))
    }
  }

  const first = upstreams.keys().next().value as string
  const defaultUpstream = readString(options, 'defaultUpstream', '', first)
  if (!upstreams.has(defaultUpstream)) {
    throw invalid('defaultUpstream', `the name of an upstream (${[...upstreams.keys()].join(', ')})`, defaultUpstream)
  }
  return {
    upstreams,
    defaultUpstream,
    xForwarded: readBoolean(options, 'xForwarded', '', true),
    status: readStatusOptions(options, ''),
    metrics: readMetricsOptions(options, ''),
    tracing: readTracingOptions(options, ''),
    replyFrom: readReplyFromOptions(options)
  }
}
