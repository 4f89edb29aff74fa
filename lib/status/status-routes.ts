import type { FastifyInstance } from 'fastify'
import type { NormalizedStatus } from '../options/types.js'
import { loopbackOnly } from './access-guard.js'
import { StateHistory } from './state-history.js'
import { newActionToken, registerActionRoutes, type TargetActions } from './status-actions.js'
import { renderStatusPage } from './status-page.js'
import { StatusStream } from './status-stream.js'
import { snapshotsOf, statusView, type StatusSource } from './status-view.js'

/** What the plugin gives the status routes: the pools and sources to show, and what the buttons do. */
export interface StatusInputs extends Omit<StatusSource, 'history'> {
  actions: TargetActions
}

/**
 * The status routes: `<path>` (the page), `<path>/targets.json` (every target's snapshot, grouped
 * by upstream, and the kept state changes) and `<path>/events` (the live event stream the page
 * reads), guarded by the user's onRequest hook, or served to loopback clients only; with a guard
 * (and `actions` not false), the buttons' POST routes too (status-actions.ts).
 */
export function registerStatusRoutes (app: FastifyInstance, options: NormalizedStatus, inputs: StatusInputs): StatusStream {
  // Kept from register on, page open or not: what it shows when it opens.
  const history = new StateHistory(options.history)
  for (const pool of inputs.pools) pool.observe(history)
  const source: StatusSource = { pools: inputs.pools, defaultUpstream: inputs.defaultUpstream, sources: inputs.sources, history: () => history.changes() }
  const onRequest = options.onRequest ?? loopbackOnly
  const actionToken = options.actions ? newActionToken() : null
  if (actionToken !== null) registerActionRoutes(app, options.path, onRequest, actionToken, inputs.pools, inputs.actions)
  const page = renderStatusPage({ basePath: options.path, history: options.history, actionToken })
  const stream = new StatusStream(source)

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
    return statusView(source, Date.now(), snapshotsOf, true)
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
