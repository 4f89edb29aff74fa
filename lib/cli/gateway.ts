import Fastify, { type FastifyInstance } from 'fastify'
import type { Writable } from 'node:stream'
import lolly from '../index.js'
import type { LollyOptions } from '../options/types.js'
import { closeHttp2SessionsWhenClosing } from './close-http2-sessions.js'
import { closeConnectionsWhenDone } from './close-idle-connections.js'
import { inFile, type GatewayConfig } from './gateway-config.js'
import { registerProxyRoutes } from './proxy-routes.js'

/** Builds (does not start) the Fastify app a configuration file describes. */
export async function buildGateway (config: GatewayConfig, logStream: Writable): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as an object: Fastify's overloads type the server from literal http2/https options.
    ...serverOptions(config),
    logger: { level: config.logLevel, stream: logStream },
    // Fastify takes a hop count too (its docs say so); its types only miss the number form.
    trustProxy: config.trustProxy as boolean,
    // Every method and path is the upstream's to answer; HEAD is proxied, not derived from GET.
    exposeHeadRoutes: false
  })
  try {
    await app.register(lolly, config.plugin as LollyOptions)
    closeConnectionsWhenDone(app)
    if (config.listen.http2) closeHttp2SessionsWhenClosing(app)
    await app.register(async (scope) => registerProxyRoutes(scope, config.routes))
  } catch (err) {
    await app.close()
    // The options were checked when the file was read; what is left is what only building the app
    // finds, such as a route prefix that collides with the status page's routes.
    throw inFile(err as Error, config.file)
  }
  return app
}

/**
 * The server Fastify makes: HTTP, HTTPS, or HTTP/2 over TLS that serves HTTP/1.1 to clients whose
 * ALPN does not offer h2 (and to WebSocket, which is HTTP/1.1 only), as Caddy and nginx do.
 */
function serverOptions (config: GatewayConfig): object {
  const credentials = config.credentials
  if (credentials === null) return {}
  const https = { cert: credentials.cert, key: credentials.key }
  return config.listen.http2 ? { http2: true, https: { ...https, allowHTTP1: true } } : { https }
}
