import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** One of the demo's local upstream servers. */
export interface DemoUpstream {
  readonly name: string
  readonly url: string
  /** While true the server answers 503 to everything, health probes included: an outage to watch. */
  failing: boolean
  close (): Promise<void>
}

/**
 * Starts a small HTTP server on 127.0.0.1 (a free port) that answers every request with a JSON
 * line naming itself, and `GET /health` with 200 (503 while failing).
 */
export async function startDemoUpstream (name: string): Promise<DemoUpstream> {
  const server = http.createServer((req, res) => {
    const failing = upstream.failing
    const body = req.url === '/health'
      ? { upstream: name, health: failing ? 'failing' : 'ok' }
      : failing
        ? { upstream: name, error: 'failing on purpose (POST /_demo/' + name + '/recover to heal)' }
        : { upstream: name, method: req.method, url: req.url }
    res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body) + '\n')
    req.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const upstream: DemoUpstream = {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failing: false,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
  return upstream
}
