import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { AddressInfo } from 'node:net'
import lolly from '../../lib/index.js'
import type { LollyOptions } from '../../lib/options/types.js'

export interface Gateway {
  app: FastifyInstance
  port: number
  url: string
}

/**
 * A Fastify app with fastify-lolly registered, `routes` added (by default one catch-all GET/POST/...
 * that proxies), listening on 127.0.0.1 port 0: what a client on the network talks to.
 */
export async function startGateway (
  options: LollyOptions,
  routes: (app: FastifyInstance) => void = proxyEverything,
  fastifyOptions: FastifyServerOptions = {}
): Promise<Gateway> {
  const app = Fastify(fastifyOptions)
  await app.register(lolly, options)
  routes(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  return { app, port, url: `http://127.0.0.1:${port}` }
}

export function proxyEverything (app: FastifyInstance): void {
  app.all('/*', (_req, reply) => reply.from())
}

/** Requests in flight over every pool of the app, as the pools count them. */
export function inflight (app: FastifyInstance): number {
  return app.lolly.targets.reduce((sum, target) => sum + target.inflight, 0)
}

/** Polls `condition` every few ms until it holds or `ms` have passed; returns whether it held. */
export async function eventually (condition: () => boolean, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms
  while (!condition()) {
    if (Date.now() > until) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}
