import http from 'node:http'

export interface StreamEvent {
  event: string
  data: unknown
}

export interface EventStreamClient {
  response: http.IncomingMessage
  /** Every `retry:` value the server sent. */
  retries: number[]
  /** Resolves with the next event of type `event` (any type when omitted), skipping others. */
  next (event?: string): Promise<StreamEvent>
  /** Resolves when the server ends the stream. */
  ended: Promise<void>
  close (): void
}

/** Connects to a Server-Sent Events URL with node:http and parses the stream as it arrives. */
export async function connectEvents (url: string): Promise<EventStreamClient> {
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(url, resolve).on('error', reject)
  })
  const queue: StreamEvent[] = []
  const waiting: Array<{ event: string | undefined, resolve: (e: StreamEvent) => void }> = []
  const retries: number[] = []
  let buffer = ''
  function deliver (): void {
    for (let w = 0; w < waiting.length; w++) {
      const at = queue.findIndex((e) => waiting[w].event === undefined || e.event === waiting[w].event)
      if (at === -1) continue
      const [found] = queue.splice(0, at + 1).slice(-1)
      waiting.splice(w, 1)[0].resolve(found)
      w--
    }
  }
  response.setEncoding('utf8')
  response.on('data', (chunk: string) => {
    buffer += chunk
    let end
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = 'message'
      let data: string | undefined
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data = line.slice(6)
        else if (line.startsWith('retry: ')) retries.push(Number(line.slice(7)))
      }
      if (data !== undefined) queue.push({ event, data: JSON.parse(data) })
    }
    deliver()
  })
  const ended = new Promise<void>((resolve) => response.on('close', () => resolve()))
  return {
    response,
    retries,
    ended,
    next (event) {
      return new Promise((resolve) => {
        waiting.push({ event, resolve })
        deliver()
      })
    },
    close () { response.destroy() }
  }
}
