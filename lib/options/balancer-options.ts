import type { FastifyRequest } from 'fastify'
import type { BalancerSpec, HashKey } from './types.js'
import { invalid, join, pick, type Plain } from './option-reader.js'

/** A hashKey option (its form checked by the schema) as the balancers read it. */
export function readHashKey (value: string | ((request: FastifyRequest) => string)): HashKey {
  if (typeof value === 'function') return { kind: 'function', fn: value }
  if (value === 'ip' || value === 'url') return { kind: value }
  const colon = value.indexOf(':')
  const name = value.slice(colon + 1)
  // Header names are case-insensitive and arrive lower-cased from Node; cookie names are case-sensitive.
  return value.startsWith('header:') ? { kind: 'header', name: name.toLowerCase() } : { kind: 'cookie', name }
}

/**
 * Reads balancer, hashKey and hashBalanceFactor of one upstream (or route), over `inherited`.
 * `ip-hash` is consistent hashing keyed on the client IP.
 */
export function readBalancerSpec (object: Plain, path: string, inherited: BalancerSpec): BalancerSpec {
  const name = pick(object, 'balancer', inherited.name)
  let hashKey = object.hashKey === undefined ? inherited.hashKey : readHashKey(object.hashKey as string)
  if (name === 'ip-hash') {
    if (object.hashKey !== undefined && hashKey.kind !== 'ip') {
      throw invalid(join(path, 'hashKey'), "'ip' (or absent) with balancer 'ip-hash'", object.hashKey)
    }
    hashKey = { kind: 'ip' }
  }
  return { name, hashKey, hashBalanceFactor: pick(object, 'hashBalanceFactor', inherited.hashBalanceFactor) }
}
