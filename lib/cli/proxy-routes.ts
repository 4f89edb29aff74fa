import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { invalid } from '../options/option-reader.js'
import type { RouteConfig } from './route-config.js'

/**
 * Registers the file's routes in `scope`: for each prefix, `prefix` itself and `prefix/*`, any
 * method, proxied with reply.from() to the route's upstream with the prefix rewritten. Bodies pass
 * through as streams (nothing parses or buffers them), like any reverse proxy.
 */
export function registerProxyRoutes (scope: FastifyInstance, routes: readonly RouteConfig[]): void {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
  routes.forEach((route, i) => {
    const handler = proxyHandler(route)
    const config = { upstream: route.upstream }
    const urls = route.prefix === '' ? ['/*'] : [route.prefix, `${route.prefix}/*`]
    for (const url of urls) {
      // The plugin's own routes (status page, metrics) are GET routes; Fastify's message for the
      // collision would list every method of the route instead of saying which entry of the file it is.
      if (scope.hasRoute({ method: 'GET', url })) {
        throw invalid(`routes[${i}].prefix`, 'a path the plugin does not serve itself (the status page or metrics are there)', route.prefix)
      }
      scope.all(url, { config }, handler)
    }
  })
}

function proxyHandler (route: RouteConfig) {
  const { prefix, rewritePrefix } = route
  return function proxy (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const url = request.url
    // The router matched the decoded path; the raw one must have the prefix too, or stripping it
    // would cut the wrong characters (`/%61pi/x` matches `/api/*`). Such a request gets a 404.
    if (!hasPrefix(url, prefix)) {
      reply.callNotFound()
      return reply
    }
    return reply.from(rewritePath(url, prefix, rewritePrefix))
  }
}

/** Whether the raw request target starts with the path segment(s) of `prefix`. */
export function hasPrefix (url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false
  const next = url.charCodeAt(prefix.length)
  // '/' or '?' after the prefix, or nothing (a NaN code); '/apis' is not under '/api'.
  return next === 47 || next === 63 || (Number.isNaN(next) && prefix !== '')
}

/** `/api/users?x=1` with prefix '/api' and rewritePrefix '' is `/users?x=1`; the query string is kept. */
export function rewritePath (url: string, prefix: string, rewritePrefix: string): string {
  const rest = url.slice(prefix.length)
  if (rest === '' || rest.charCodeAt(0) === 63) return (rewritePrefix === '' ? '/' : rewritePrefix) + rest
  return rewritePrefix + rest
}
