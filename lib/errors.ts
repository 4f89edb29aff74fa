import createError from '@fastify/error'

// Every error fastify-lolly raises, in one place, with an FST_LOLLY_ code a caller can switch on.

/** A plugin, route, or runtime-management option failed validation. The message names the path. */
export const InvalidOptionError = createError<[string]>('FST_LOLLY_INVALID_OPTION', '%s', 500, TypeError)

/** No target of the upstream can take the request right now (all down, ejected, draining or full). */
export const NoAvailableTargetError = createError<[string]>(
  'FST_LOLLY_NO_AVAILABLE_TARGET', 'No target of upstream "%s" can take the request', 503)

/** The upstream could not be reached, or closed the connection before answering. */
export const BadGatewayError = createError<[string]>('FST_LOLLY_BAD_GATEWAY', 'Upstream failed: %s', 502)

/** The upstream did not answer (or connect) in time. */
export const GatewayTimeoutError = createError<[string]>('FST_LOLLY_GATEWAY_TIMEOUT', 'Upstream timed out: %s', 504)

/** The client asked for a request target the proxy refuses to forward (it would leave the target's base). */
export const BadRequestTargetError = createError<[string]>('FST_LOLLY_BAD_REQUEST_TARGET', 'Refusing to proxy request target: %s', 400)

/** A runtime-management call named an upstream or target that does not exist. */
export const UnknownTargetError = createError<[string]>('FST_LOLLY_UNKNOWN_TARGET', '%s', 404)

/** The pool was closed; no new request can be dispatched through it. */
export const PoolClosedError = createError<[string]>('FST_LOLLY_POOL_CLOSED', 'Upstream "%s" is closed', 503)
