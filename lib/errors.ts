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

/**
 * A reply.from() `getUpstream` returned something other than one of its pool's targets: a server-side
 * mistake (500), never a way out of the pool.
 */
export const UpstreamNotInPoolError = createError<[string, string]>(
  'FST_LOLLY_UPSTREAM_NOT_IN_POOL', 'getUpstream returned %s, which is not the URL of a target of upstream "%s"', 500)

/**
 * undici refused to send the request as built (an invalid header value a route copied from client
 * input, a body that does not match its Content-Length): nothing reached a target.
 */
export const UnsendableRequestError = createError<[string]>('FST_LOLLY_UNSENDABLE_REQUEST', 'The request cannot be forwarded: %s', 400)

/** A runtime-management call named an upstream or target that does not exist. */
export const UnknownTargetError = createError<[string]>('FST_LOLLY_UNKNOWN_TARGET', '%s', 404)

/** app.lolly.removeTarget of a target a discovery source owns: it leaves when the source stops listing it. */
export const DiscoveredTargetError = createError<[string, string, string]>(
  'FST_LOLLY_DISCOVERED_TARGET',
  'Target %s of upstream "%s" comes from %s: it leaves when that source no longer lists it (drain or disable it to take it out of service)',
  409
)

/** A drain() was still waiting for in-flight requests when the target was put back into service. */
export const DrainInterruptedError = createError<[string, string, string]>(
  'FST_LOLLY_DRAIN_INTERRUPTED', 'Drain of %s (upstream "%s") was called off: %s', 409)

/** The pool was closed; no new request can be dispatched through it. */
export const PoolClosedError = createError<[string]>('FST_LOLLY_POOL_CLOSED', 'Upstream "%s" is closed', 503)

/** The `lolly` command's configuration file could not be read or parsed. */
export const ConfigFileError = createError<[string, string]>('FST_LOLLY_CONFIG_FILE', '%s: %s', 500)

/** The `lolly` command was called with arguments it does not understand. */
export const CliUsageError = createError<[string]>('FST_LOLLY_CLI_USAGE', '%s', 500)

/** `metrics` was set but prom-client (an optional peer dependency) could not be loaded. */
export const PromClientMissingError = createError<[string]>(
  'FST_LOLLY_PROM_CLIENT_MISSING', 'The metrics option needs prom-client: npm install prom-client (%s)', 500)

/** A metric of ours is already in the registry: another instance uses the same registry and prefix. */
export const MetricExistsError = createError<[string]>(
  'FST_LOLLY_METRIC_EXISTS', 'Metric %s is already registered: give each fastify-lolly instance sharing a registry its own metrics.prefix', 500)

/** The status page was asked for by a client that is not on loopback, and no status.onRequest guard was given. */
export const StatusForbiddenError = createError(
  'FST_LOLLY_STATUS_FORBIDDEN', 'The status page is served to loopback clients only; set status.onRequest to decide who else may see it', 403)

/**
 * A status page action (drain, disable, enable) came without the page's token or from another
 * origin: refused, since a page on another site could otherwise make an operator's browser send it.
 */
export const StatusActionForbiddenError = createError<[string]>(
  'FST_LOLLY_STATUS_ACTION_FORBIDDEN', 'Status page actions are taken from the status page only: %s', 403)

/**
 * A target answered a WebSocket handshake with a 2xx instead of 101 (no WebSocket endpoint there):
 * the client gets 502; not held against the target, nor tried elsewhere (see upstream-errors.ts).
 */
export const UpgradeRefusedError = createError<[number]>(
  'FST_LOLLY_UPGRADE_REFUSED', 'The target answered the WebSocket handshake with %s instead of 101 Switching Protocols', 502)

/** A WebSocket upgrade reached reply.from() on a route (or pool) that does not tunnel them (`websocket`). */
export const WebSocketNotEnabledError = createError<[string]>(
  'FST_LOLLY_WEBSOCKET_NOT_ENABLED', 'WebSocket upgrades are not tunnelled on %s (set websocket: true on its upstream or route)', 403)

/** The pool holds `websocket.maxTunnels` tunnels already. */
export const TooManyTunnelsError = createError<[string, number]>(
  'FST_LOLLY_TOO_MANY_TUNNELS', 'Upstream "%s" has %s WebSocket tunnels open, its maxTunnels', 503)

/**
 * Cuts a try still waiting for its answer when health took its target out (ejected, failed probes),
 * so that its request moves on (retry.on 'target-down'); never seen by a client: a try is cut only
 * when its request has a retry planned.
 */
export const TargetDownError = createError<[string]>(
  'FST_LOLLY_TARGET_DOWN', '%s went out of service while the request waited for its answer', 502)

/**
 * The client sent nothing of its request body for `clientBodyTimeout` ms while the proxy streamed it
 * to a target (nginx's client_body_timeout): the try is cut, not held against the target, not retried.
 */
export const ClientBodyTimeoutError = createError<[number]>(
  'FST_LOLLY_CLIENT_BODY_TIMEOUT', 'The client sent no part of its request body for %s ms', 408)
