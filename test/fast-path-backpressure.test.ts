import { test } from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import lolly from '../lib/index.js'

// A large body streams through the fast path with backpressure: to a reader slower than the upstream,
// the proxy holds a stream's buffer and the sockets', not the body. Client, proxy and upstream all
// run in this process, so the RSS measured is everyone's, and a body held in memory would show.

const TOTAL = 512 * 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 'x')

test('a 512 MiB download to a slow reader keeps RSS flat', async (t) => {
  const upstream = http.createServer((_req, res) => {
    // No Content-Length: a body of unknown length, as a large download often is.
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    let sent = 0
    const more = (): void => {
      while (sent < TOTAL) {
        sent += CHUNK.length
        if (!res.write(CHUNK)) {
          res.once('drain', more)
          return
        }
      }
      res.end()
    }
    more()
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const app = Fastify()
  t.teardown(async () => {
    await app.close()
    upstream.closeAllConnections()
    await new Promise((resolve) => upstream.close(resolve))
  })
  await app.register(lolly, { targets: [`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`] })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })

  const before = process.memoryUsage().rss
  let peak = before
  const received = await new Promise<number>((resolve, reject) => {
    http.get(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/big`, (res) => {
      let bytes = 0
      let sinceBreak = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        sinceBreak += chunk.length
        // The slow reader: a 10 ms break after every MiB, slower than loopback by far.
        if (sinceBreak >= 1024 * 1024) {
          sinceBreak = 0
          peak = Math.max(peak, process.memoryUsage().rss)
          res.pause()
          setTimeout(() => res.resume(), 10)
        }
      })
      res.on('end', () => resolve(bytes))
      res.on('error', reject)
    }).on('error', reject)
  })
  t.equal(received, TOTAL)
  const growth = (peak - before) / 1024 / 1024
  // Garbage not yet collected (every chunk read is) makes up most of what growth there is, 30-75 MiB
  // across runs; without backpressure (onData never returning false) it grew by 458 MiB.
  t.ok(growth < 160, `RSS grew by ${growth.toFixed(0)} MiB while 512 MiB went through`)
})
