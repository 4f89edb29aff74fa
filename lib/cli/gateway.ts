import Fastify, { type FastifyInstance } from 'fastify'
import type { Writable } from 'node:stream'
import lolly from '../index.js'
import type { LollyOptions } from '../options/types.js'
import { closeConnectionsWhenDone } from './close-idle-connections.js'
import { inFile, type GatewayConfig } from './gateway-config.js'
import { registerProxyRoutes } from './proxy-routes.js'

/** Builds (does not start) the Fastify app a configuration file describes. */
export async function buildGateway (config: GatewayConfig, logStream: Writable): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    logger: { level: config.logLevel, stream: logStream },
    // Fastify takes a hop count too (its docs say so); its types only miss the number form.
    trustProxy: config.trustProxy as boolean,
    // Every method and path is the upstream's to answer; HEAD is proxied, not derived from GET.
    exposeHeadRoutes: false
  })
  try {
    await app.register(lolly, config.plugin as LollyOptions)
    closeConnectionsWhenDone(app)
    await app.register(async (scope) => registerProxyRoutes(scope, config.routes))
  } catch (err) {
    await app.close()
    // The options were checked when the file was read; what is left is what only building the app
    // finds, such as a route prefix that collides with the status page's routes.
    throw inFile(err as Error, config.file)
  }
  return app
}
