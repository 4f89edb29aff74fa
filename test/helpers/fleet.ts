import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** Servers of one service on several loopback addresses (hosts), all on the same port, as a name's A records point at them. */
export interface Fleet {
  port: number
  /** Requests each host received: its address, the Host header, the path. */
  hits: Array<{ address: string, host: string | undefined, url: string }>
  /** The answers' first words are the host's address. */
  urlOf (address: string): string
  /** Starts one more host on the fleet's port. */
  add (address: string): Promise<void>
  /** Closes one host (its connections too). */
  remove (address: string): Promise<void>
  close (): Promise<void>
}

/**
 * Starts an HTTP server on each of `addresses` (127.0.0.2, 127.0.0.3, ...), on one port picked by the
 * first. Each answers `<address> <method> <url>`.
 */
export async function startFleet (addresses: readonly string[]): Promise<Fleet> {
  const servers = new Map<string, http.Server>()
  const hits: Fleet['hits'] = []
  let port = 0
  async function add (address: string): Promise<void> {
    const server = http.createServer((req, res) => {
      hits.push({ address, host: req.headers.host, url: req.url! })
      req.resume()
      req.on('end', () => res.end(`${address} ${req.method} ${req.url}`))
    })
    server.keepAliveTimeout = 60_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, address, () => resolve())
    })
    port = (server.address() as AddressInfo).port
    servers.set(address, server)
  }
  async function remove (address: string): Promise<void> {
    const server = servers.get(address)
    if (server === undefined) return
    servers.delete(address)
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  for (const address of addresses) await add(address)
  return {
    get port () { return port },
    hits,
    urlOf: (address) => `http://${address}:${port}`,
    add,
    remove,
    close: async () => { await Promise.all([...servers.keys()].map(remove)) }
  }
}

/** Polls `check` every 10 ms until it holds, for at most `ms`; returns how long it took. */
export async function until (check: () => boolean, ms = 5000, what = 'condition'): Promise<number> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`${what} not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return Date.now() - started
}
