import { isIP } from 'node:net'
import type { Attributes, Span } from '@opentelemetry/api'
import type { Target } from '../pool/target.js'

// The OpenTelemetry semantic conventions for HTTP client spans (stable since 1.23): the span name is
// the method, `_OTHER`/'HTTP' for a method outside the registry; status ERROR for a failure and for
// any status from 400 on (a client span's rule: a 4xx is the request's failure as the client sees it).

const KNOWN_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY'])
// SpanStatusCode.ERROR of @opentelemetry/api (a stable enum): no value import of the optional api here.
const STATUS_ERROR = 2

/** Where a target is, for `server.*` and `network.peer.*`: parsed once per target, not per span. */
interface Endpoint {
  address: string
  port: number
  /** The host when it is an address: the peer is known without the socket. */
  peer: string | undefined
}

const endpoints = new WeakMap<Target, Endpoint>()

function endpointOf (target: Target): Endpoint {
  let endpoint = endpoints.get(target)
  if (endpoint === undefined) endpoints.set(target, endpoint = parseEndpoint(target.origin))
  return endpoint
}

function parseEndpoint (origin: string): Endpoint {
  const url = new URL(origin)
  const address = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
  return { address, port, peer: isIP(address) === 0 ? undefined : address }
}

/** The span name of a request: its method, or 'HTTP' for a method the conventions do not know. */
export function spanName (method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'HTTP'
}

/** The attributes of a request for `path` to `target` (at `origin`: a probe's port may differ), fastify-lolly's own included. */
export function requestAttributes (target: Target, method: string, path: string, origin = target.origin): Attributes {
  const endpoint = origin === target.origin ? endpointOf(target) : parseEndpoint(origin)
  const attributes: Attributes = {
    'http.request.method': KNOWN_METHODS.has(method) ? method : '_OTHER',
    'server.address': endpoint.address,
    'server.port': endpoint.port,
    'url.full': origin + path,
    'lolly.upstream': target.upstream,
    'lolly.target': target.url
  }
  if (endpoint.peer !== undefined) attributes['network.peer.address'] = endpoint.peer
  if (!KNOWN_METHODS.has(method)) attributes['http.request.method_original'] = method
  return attributes
}

/**
 * Ends a client span: the answer's status (0: none came), and `errorType` when the request failed
 * without an answer (or with one that does not count as an answer, like a probe's unmatched body).
 */
export function endClientSpan (span: Span, statusCode: number, errorType: string | undefined, message?: string): void {
  if (statusCode > 0) span.setAttribute('http.response.status_code', statusCode)
  const type = errorType ?? (statusCode >= 400 ? String(statusCode) : undefined)
  if (type !== undefined) {
    span.setAttribute('error.type', type)
    span.setStatus(message === undefined ? { code: STATUS_ERROR } : { code: STATUS_ERROR, message })
  }
  span.end()
}
