import { fork, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Pool } from 'undici'

// Targets that fail in the ways real ones do, for the fault-injection suite: a process that can be
// SIGKILLed, a TCP server that misbehaves at the byte level, a server that goes down and up on the
// same port; and a load loop that records what clients saw.

const TARGET_PROCESS = path.join(__dirname, '..', 'faults', 'fixtures', 'target-process.js')

export interface TargetProcess {
  child: ChildProcess
  port: number
  url: string
  /** SIGKILL, and resolves once the process is gone. */
  kill (): Promise<void>
}

/** Forks a target process listening on `port` (0: any); resolves once it listens. */
export async function forkTarget (port = 0): Promise<TargetProcess> {
  const child = fork(TARGET_PROCESS, [String(port)], { stdio: 'ignore' })
  const message = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', resolve as (m: unknown) => void)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`target process exited (${code})`)))
  })
  return {
    child,
    port: message.port,
    url: `http://127.0.0.1:${message.port}`,
    kill: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGKILL')
    })
  }
}

export interface RawTarget {
  server: net.Server
  port: number
  url: string
  /** Connections accepted so far. */
  connections: number
  close (): Promise<void>
}

/** A TCP server that hands every connection (and its index, from 0) to `onConnection`. */
export async function startRawTarget (onConnection: (socket: net.Socket, index: number) => void): Promise<RawTarget> {
  const sockets = new Set<net.Socket>()
  const target: RawTarget = {
    server: net.createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
      onConnection(socket, target.connections++)
    }),
    port: 0,
    url: '',
    connections: 0,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      target.server.close(() => resolve())
    })
  }
  await new Promise<void>((resolve) => target.server.listen(0, '127.0.0.1', resolve))
  target.port = (target.server.address() as AddressInfo).port
  target.url = `http://127.0.0.1:${target.port}`
  return target
}

/** Calls `onRequest` with each request head that arrives on `socket` (requests without a body). */
export function onRequestHeads (socket: net.Socket, onRequest: (head: string) => void): void {
  let buffered = ''
  socket.on('data', (data) => {
    buffered += data.toString('latin1')
    let end
    while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
      const head = buffered.slice(0, end)
      buffered = buffered.slice(end + 4)
      onRequest(head)
    }
  })
}

export interface SwitchableTarget {
  port: number
  url: string
  up: boolean
  requests: number
  /** Stops listening and cuts every connection: connections are refused until start(). */
  stop (): Promise<void>
  /** Listens again on the same port. */
  start (): Promise<void>
  close (): Promise<void>
}

/** An HTTP target that can be taken down and brought back on the same port. */
export async function startSwitchableTarget (name: string): Promise<SwitchableTarget> {
  let server: http.Server | undefined
  const target: SwitchableTarget = {
    port: 0,
    url: '',
    up: false,
    requests: 0,
    async start () {
      const next = http.createServer((req, res) => {
        if (req.url !== '/health') target.requests++
        req.resume()
        req.on('end', () => res.end(`${name} ${req.url}`))
      })
      await new Promise<void>((resolve) => next.listen(target.port, '127.0.0.1', resolve))
      server = next
      target.port = (next.address() as AddressInfo).port
      target.url = `http://127.0.0.1:${target.port}`
      target.up = true
    },
    async stop () {
      const current = server
      server = undefined
      target.up = false
      if (current === undefined) return
      current.closeAllConnections()
      await new Promise<void>((resolve) => current.close(() => resolve()))
    },
    close: () => target.stop()
  }
  await target.start()
  return target
}

export interface LoadResult {
  requests: number
  /** Count per outcome: a status code, or the client error code. */
  outcomes: Record<string, number>
  /** Slowest request, ms. */
  slowestMs: number
}

/**
 * Sends requests from `concurrency` loops until `until()` is true. `request(i)` gives each one's
 * method and path. Every request has `timeoutMs` to finish: a request that hangs shows up as
 * 'UND_ERR_HEADERS_TIMEOUT' or 'UND_ERR_BODY_TIMEOUT', never as a test that hangs.
 */
export async function runLoad (url: string, options: {
  concurrency: number
  until: () => boolean
  request?: (i: number) => { method: string, path: string, body?: string }
  timeoutMs?: number
}): Promise<LoadResult> {
  const timeoutMs = options.timeoutMs ?? 2000
  const client = new Pool(url, { connections: options.concurrency, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  const result: LoadResult = { requests: 0, outcomes: {}, slowestMs: 0 }
  const count = (outcome: string) => { result.outcomes[outcome] = (result.outcomes[outcome] ?? 0) + 1 }
  let i = 0
  try {
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      while (!options.until()) {
        const { method, path: requestPath, body } = options.request?.(i) ?? { method: 'GET', path: `/r${i}` }
        i++
        result.requests++
        const started = Date.now()
        try {
          const headers = body === undefined ? undefined : { 'content-type': 'text/plain' }
          const res = await client.request({ method: method as 'GET', path: requestPath, body, headers })
          await res.body.dump({ limit: Infinity })
          count(String(res.statusCode))
        } catch (err) {
          count((err as { code?: string }).code ?? (err as Error).name)
        }
        result.slowestMs = Math.max(result.slowestMs, Date.now() - started)
      }
    }))
  } finally {
    await client.destroy()
  }
  return result
}
