import type { FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { HashKey } from '../options/types.js'

type Headers = Record<string, string | string[] | undefined>

/**
 * The string a hash balancer hashes for one request. 'ip' is Fastify's `request.ip`, which honours
 * trustProxy: a raw X-Forwarded-For is never read, so a client cannot choose its target by spoofing it.
 * Without a Fastify request (the pool used directly as an undici dispatcher) the key comes from the
 * dispatch options; 'ip' and functions then hash to '' (every such request maps to one target).
 */
export function hashKeyOf (hashKey: HashKey, request: FastifyRequest | undefined, opts: Dispatcher.DispatchOptions): string {
  switch (hashKey.kind) {
    case 'ip':
      return request === undefined ? '' : request.ip
    case 'url':
      return request === undefined ? opts.path : request.url
    case 'header':
      return firstValue(request === undefined ? dispatchHeader(opts.headers, hashKey.name) : request.headers[hashKey.name])
    case 'cookie':
      return cookieValue(firstValue(request === undefined ? dispatchHeader(opts.headers, 'cookie') : request.headers.cookie), hashKey.name)
    case 'function':
      return request === undefined ? '' : String(hashKey.fn(request))
  }
}

/**
 * A header of dispatch options, in any of the forms undici takes: an object (names in any case), a
 * flat array of names and values, or an iterable of [name, value] pairs. `name` is lower case.
 */
function dispatchHeader (headers: Dispatcher.DispatchOptions['headers'], name: string): string | string[] | undefined {
  if (headers == null) return undefined
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return headers[i + 1] as string
    }
    return undefined
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string | string[] | undefined]>) {
      if (key.toLowerCase() === name) return value
    }
    return undefined
  }
  const object = headers as Headers
  if (object[name] !== undefined) return object[name]
  for (const key in object) if (key.toLowerCase() === name) return object[key]
  return undefined
}

function firstValue (value: string | string[] | undefined): string {
  if (value === undefined) return ''
  return typeof value === 'string' ? value : (value[0] ?? '')
}

/** Finds one cookie's value in a Cookie header without parsing (or allocating for) the others. */
export function cookieValue (header: string, name: string): string {
  let from = 0
  while (from < header.length) {
    const at = header.indexOf(name, from)
    if (at === -1) return ''
    const end = at + name.length
    const startsPair = at === 0 || header[at - 1] === ' ' || header[at - 1] === ';'
    if (startsPair && header[end] === '=') {
      const stop = header.indexOf(';', end)
      return header.slice(end + 1, stop === -1 ? header.length : stop).trim()
    }
    from = end
  }
  return ''
}
