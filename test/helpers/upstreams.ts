import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Upstream {
  server: http.Server
  url: string
  port: number
  /** Requests this server received, in order. */
  hits: Array<{ method: string, url: string, headers: http.IncomingHttpHeaders, body: string }>
  close (): Promise<void>
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

const defaultHandler: UpstreamHandler = (req, res) => {
  res.setHeader('content-type', 'text/plain')
  res.end(`${(req.socket as unknown as { server: { name: string } }).server.name} ${req.method} ${req.url}`)
}

/** Starts a real HTTP server on 127.0.0.1, port 0. Its answers start with `name`. */
export async function startUpstream (name: string, handler: UpstreamHandler = defaultHandler, port = 0): Promise<Upstream> {
  const hits: Upstream['hits'] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => {
      hits.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      handler(req, res, body)
    })
  })
  ;(server as unknown as { name: string }).name = name
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actual = (server.address() as AddressInfo).port
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}

/** Starts `n` upstreams named u0, u1, ... */
export async function startUpstreams (n: number, handler?: UpstreamHandler): Promise<Upstream[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startUpstream(`u${i}`, handler)))
}

/** A port on 127.0.0.1 where nothing listens (connection refused). */
export async function closedPort (): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
