import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RedirectEntry } from './listen-config.js'

/** Where an error of a listening redirect entry goes: the gateway's log. */
export interface ErrorLog { error (details: object, message: string): void }

/** A running redirect entry: plain HTTP to the gateway's https address. */
export interface RedirectServer {
  /** `http://127.0.0.1:8080`, as the startup line prints it. */
  readonly origin: string
  readonly server: Server
  close (): Promise<void>
}

// A host name, an IPv4 address or a bracketed IPv6 address, then an optional port: anything else
// in Host is not a name this server could have been reached by, and is never echoed into Location.
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/

/**
 * Listens on a plain-HTTP entry and answers every request, whatever its method, with 308 Permanent
 * Redirect to the same host name, path and query on the https port, as Caddy's automatic HTTP->HTTPS
 * redirect does (308 rather than 301: a POST stays a POST). The port is left out when it is 443.
 * A request without a usable Host (HTTP/1.0 without one, or a malformed one), or whose target is not
 * a path (`GET http://other/ HTTP/1.1`, `OPTIONS *`), gets 400.
 */
export async function startRedirectServer (entry: RedirectEntry, httpsPort: number, log: ErrorLog): Promise<RedirectServer> {
  const port = httpsPort === 443 ? '' : `:${httpsPort}`
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const host = HOST.exec(req.headers.host ?? '')
    if (host === null || !req.url!.startsWith('/')) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('Only a request with a Host header and a path (origin form) is redirected to https\n')
    } else {
      // req.url is the origin-form target Node's parser accepted: a path and query, no CR or LF.
      res.writeHead(308, { location: `https://${host[1]}${port}${req.url}`, 'content-length': '0' })
      res.end()
    }
    // The body, if any, is not wanted: read it off so the connection can carry the next request.
    req.resume()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(entry.port, entry.host, () => {
      server.off('error', reject)
      // An error once listening (accept failing with EMFILE) is the log's, not an uncaught 'error' that ends the gateway.
      server.on('error', (err) => log.error({ err }, `lolly: redirect entry ${entry.host}:${entry.port}: ${err.message}`))
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  return {
    origin,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      // Every answer is written at once: an open connection is at most waiting for a request, so
      // none is cut in the middle of one.
      server.closeAllConnections()
    })
  }
}
