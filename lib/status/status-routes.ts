import type { FastifyInstance } from 'fastify'
import type { NormalizedStatus } from '../options/types.js'
import { loopbackOnly } from './access-guard.js'
import { renderStatusPage } from './status-page.js'
import { StatusStream, type StatusStreamSource } from './status-stream.js'
import { snapshotsOf, statusView } from './status-view.js'

/**
 * The status routes: `<path>` (the page), `<path>/targets.json` (every target's snapshot, grouped
 * by upstream) and `<path>/events` (the live event stream the page reads). All three are guarded by
 * the user's onRequest hook, or served to loopback clients only.
 */
export function registerStatusRoutes (app: FastifyInstance, options: NormalizedStatus, source: StatusStreamSource): StatusStream {
  const page = renderStatusPage(options.path)
  const stream = new StatusStream(source)
  const onRequest = options.onRequest ?? loopbackOnly

  app.get(options.path, { onRequest }, async (_request, reply) => {
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', page.contentSecurityPolicy)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(page.html)
  })

  app.get(`${options.path}/targets.json`, { onRequest }, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return statusView(source, Date.now(), snapshotsOf)
  })

  app.get(`${options.path}/events`, { onRequest }, (_request, reply) => {
    reply.hijack()
    stream.add(reply.raw)
  })

  // An open event stream would keep the server from closing: end them before Fastify waits for requests.
  app.addHook('preClose', (done) => {
    stream.close()
    done()
  })
  return stream
}
