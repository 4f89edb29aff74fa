import net from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** Sends bytes exactly as given (no client-side URL normalisation) and parses the one response. */
export async function rawRequest (port: number, head: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head))
    let data = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { data += chunk })
    socket.on('error', reject)
    socket.on('end', () => {
      const split = data.indexOf('\r\n\r\n')
      const lines = data.slice(0, split).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: data.slice(split + 4) })
    })
  })
}

/** A GET with the given request target and extra header lines, on a connection that closes after it. */
export function get (target: string, extraHeaders = ''): string {
  return `GET ${target} HTTP/1.1\r\nHost: gateway.test\r\n${extraHeaders}Connection: close\r\n\r\n`
}
