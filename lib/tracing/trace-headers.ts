import type { Dispatcher } from 'undici'

type Headers = Dispatcher.DispatchOptions['headers']
type HeaderValue = string | string[] | undefined

/**
 * `headers` with the fields a propagator wrote into `carrier` (W3C `traceparent`, `tracestate`):
 * a copy, whatever form undici takes them in (an object, a flat array, an iterable of pairs), in
 * which those fields replace any the client sent (reply-from passes the client's headers on; a
 * target must see the try's span as its parent, not the client's). The caller's headers are left
 * as they are: every try of a request gets its own. `headers` itself when the carrier is empty (an
 * SDK without a propagator).
 */
export function withTraceHeaders (headers: Headers, carrier: Record<string, string>): Headers {
  const fields = Object.keys(carrier)
  if (fields.length === 0) return headers
  // No prototype: a client's header named __proto__ is a header like any other here.
  const out: Record<string, HeaderValue> = Object.create(null)
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) add(out, headers[i], headers[i + 1], fields)
  } else if (headers != null) {
    const pairs: Iterable<[string, HeaderValue]> = isIterable(headers) ? headers : Object.entries(headers)
    for (const [name, value] of pairs) add(out, name, value, fields)
  }
  for (const field of fields) out[field] = carrier[field]
  return out
}

function add (out: Record<string, HeaderValue>, name: string, value: HeaderValue, replaced: readonly string[]): void {
  if (replaced.includes(name.toLowerCase())) return
  const before = out[name]
  // A name given twice (a flat array, an iterable) keeps both values, as undici would send them.
  out[name] = before === undefined ? value : ([] as string[]).concat(before, value ?? [])
}

function isIterable (headers: object): headers is Iterable<[string, HeaderValue]> {
  return typeof (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
}
