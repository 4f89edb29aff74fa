import net from 'node:net'

export interface RawResponse {
  status: number
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
}

export interface RawExchange {
  /** Every byte the server sent, latin1-decoded. */
  text: string
  /** Each response on the connection, in order (more than one: pipelining or smuggling). */
  responses: RawResponse[]
  /** Their status codes. */
  statuses: number[]
  /** Whether the server closed the connection (false: `timeoutMs` passed first). */
  closed: boolean
  /** Whether the socket errored (ECONNRESET) instead of closing cleanly. */
  reset: boolean
}

/**
 * Writes `bytes` exactly as given on a fresh connection and collects whatever comes back until the
 * server closes it or `timeoutMs` passes. A hostile request must never make the server hang, so the
 * caller asserts `closed` (or a complete response) rather than waiting forever.
 */
export async function rawExchange (port: number, bytes: string | Buffer, timeoutMs = 2000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    let reset = false
    const finish = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      const responses = parseResponses(text)
      resolve({ text, responses, statuses: responses.map((r) => r.status), closed, reset })
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('error', () => { reset = true })
    socket.on('close', () => finish(true))
  })
}

/** A request line plus headers, closing the connection after it. `target` is sent verbatim. */
export function rawGet (target: string, extraHeaders = ''): string {
  return `GET ${target} HTTP/1.1\r\nHost: gateway.test\r\n${extraHeaders}Connection: close\r\n\r\n`
}

/** Splits what a server sent into responses, framing each by Content-Length or chunked encoding. */
export function parseResponses (text: string): RawResponse[] {
  const responses: RawResponse[] = []
  let at = 0
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at)
    if (headEnd === -1) break
    const lines = text.slice(at, headEnd).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    at = headEnd + 4
    const status = Number(lines[0].split(' ')[1])
    let body = ''
    if (status < 200 || status === 204 || status === 304) {
      // No body: an interim answer (100 Continue) or one that never has one.
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const sizeEnd = text.indexOf('\r\n', at)
        if (sizeEnd === -1) { at = text.length; break }
        const size = parseInt(text.slice(at, sizeEnd), 16)
        at = sizeEnd + 2
        if (!(size > 0)) { at = text.indexOf('\r\n', at) + 2; break }
        body += text.slice(at, at + size)
        at += size + 2
      }
    } else {
      const length = Number(headers['content-length'] ?? (text.length - at))
      body = text.slice(at, at + length)
      at += length
    }
    responses.push({ status, headers, body })
  }
  return responses
}
