import type { FastifyRequest } from 'fastify'
import { TOKEN } from '../http/header-names.js'
import type { BalancerName, BalancerSpec, HashKey } from './types.js'
import { invalid, join, readChoice, readNumber, type Plain } from './option-reader.js'

export const BALANCER_NAMES: readonly BalancerName[] = [
  'round-robin', 'random', 'least-connections', 'p2c', 'least-latency', 'consistent-hash', 'ip-hash', 'first'
]

export function readHashKey (value: unknown, path: string): HashKey {
  if (typeof value === 'function') return { kind: 'function', fn: value as (request: FastifyRequest) => string }
  if (value === 'ip') return { kind: 'ip' }
  if (value === 'url') return { kind: 'url' }
  if (typeof value === 'string') {
    const colon = value.indexOf(':')
    const kind = value.slice(0, colon)
    const name = value.slice(colon + 1)
    if ((kind === 'header' || kind === 'cookie') && TOKEN.test(name)) {
      // Header names are case-insensitive and arrive lower-cased from Node; cookie names are case-sensitive.
      return kind === 'header' ? { kind, name: name.toLowerCase() } : { kind, name }
    }
  }
  throw invalid(path, "'ip', 'url', 'header:NAME', 'cookie:NAME' or a function", value)
}

/**
 * Reads balancer, hashKey and hashBalanceFactor of one upstream (or route), over `inherited`.
 * `ip-hash` is consistent hashing keyed on the client IP.
 */
export function readBalancerSpec (object: Plain, path: string, inherited: BalancerSpec): BalancerSpec {
  const name = readChoice(object, 'balancer', path, BALANCER_NAMES, inherited.name)
  let hashKey = object.hashKey === undefined ? inherited.hashKey : readHashKey(object.hashKey, join(path, 'hashKey'))
  if (name === 'ip-hash') {
    if (object.hashKey !== undefined && hashKey.kind !== 'ip') {
      throw invalid(join(path, 'hashKey'), "'ip' (or absent) with balancer 'ip-hash'", object.hashKey)
    }
    hashKey = { kind: 'ip' }
  }
  const hashBalanceFactor = readNumber(object, 'hashBalanceFactor', path, inherited.hashBalanceFactor, 0, 100)
  if (hashBalanceFactor !== 0 && hashBalanceFactor < 1) {
    throw invalid(join(path, 'hashBalanceFactor'), '0 (off) or a number >= 1', hashBalanceFactor)
  }
  return { name, hashKey, hashBalanceFactor }
}
