import dgram from 'node:dgram'
import net from 'node:net'
import { freePort } from './dns-fault-sockets.js'

/**
 * A DNS server whose every answer a test writes, for what dnsmasq cannot be made to do: answer each
 * lookup differently (a flapping name), or truncate over UDP and then fail over TCP. It listens on
 * 127.0.0.1 (UDP and TCP, one port) and answers A queries only (any other type: no records).
 *
 * `answer(n)` gives the addresses of the nth A query (from 0); a UDP answer that would not fit in
 * 512 bytes is sent truncated (TC, no records), as a real server does, and the client asks again
 * over TCP, which answers in full unless `tcp` says otherwise:
 * - 'answer': the full answer;
 * - 'refuse': the TCP listener is closed (ECONNREFUSED);
 * - 'silent': connections are accepted and never answered.
 * `truncate: true` sends every UDP answer truncated, whatever its size.
 */
export interface ScriptedDns {
  readonly server: string
  /** A queries received, over UDP and TCP together. */
  readonly queries: number
  /** A queries received over TCP. */
  readonly tcpQueries: number
  answer: (n: number) => string[]
  truncate: boolean
  setTcp (mode: 'answer' | 'refuse' | 'silent'): Promise<void>
  close (): Promise<void>
}

const UDP_LIMIT = 512
const TYPE_A = 1

/** The end of the question of `query` (one uncompressed question), or undefined. */
function questionEnd (query: Buffer): number | undefined {
  if (query.length < 12 || (query[2] & 0x80) !== 0 || query.readUInt16BE(4) !== 1) return undefined
  let end = 12
  while (end < query.length && query[end] !== 0) {
    if ((query[end] & 0xc0) !== 0) return undefined
    end += query[end] + 1
  }
  end += 5 // the root label, QTYPE, QCLASS
  return end > query.length ? undefined : end
}

/** The answer to `query` with `addresses` (TTL 0), truncated (TC, no records) when `truncated`. */
function reply (query: Buffer, end: number, addresses: readonly string[], truncated: boolean): Buffer {
  const records = truncated ? [] : addresses
  const out = Buffer.alloc(end + records.length * 16)
  query.copy(out, 0, 0, end)
  out[2] = 0x84 | (truncated ? 0x02 : 0) | (query[2] & 0x79) // QR, AA, TC; the query's opcode and RD
  out[3] = 0x80 // RA, NOERROR
  out.writeUInt16BE(records.length, 6)
  out.writeUInt32BE(0, 8) // no authority, no additional records
  let at = end
  for (const address of records) {
    out.writeUInt16BE(0xc00c, at) // the name: a pointer to the question's
    out.writeUInt16BE(TYPE_A, at + 2)
    out.writeUInt16BE(1, at + 4) // IN
    out.writeUInt32BE(0, at + 6) // TTL
    out.writeUInt16BE(4, at + 10)
    address.split('.').forEach((byte, i) => { out[at + 12 + i] = Number(byte) })
    at += 16
  }
  return out
}

export async function startScriptedDns (answer: (n: number) => string[]): Promise<ScriptedDns> {
  const port = await freePort()
  const udp = dgram.createSocket('udp4')
  const sockets = new Set<net.Socket>()
  let tcp: net.Server | undefined
  let tcpMode: 'answer' | 'refuse' | 'silent' = 'answer'

  const state = {
    queries: 0,
    tcpQueries: 0,
    answer,
    truncate: false
  }
  /** The answer to one query; undefined for what is not a query. */
  function answerTo (query: Buffer, overTcp: boolean): Buffer | undefined {
    const end = questionEnd(query)
    if (end === undefined) return undefined
    if (query.readUInt16BE(end - 4) !== TYPE_A) return reply(query, end, [], false)
    const addresses = state.answer(state.queries++)
    if (overTcp) state.tcpQueries++
    return reply(query, end, addresses, !overTcp && (state.truncate || end + addresses.length * 16 > UDP_LIMIT))
  }

  udp.on('message', (query, from) => {
    const out = answerTo(query, false)
    if (out !== undefined) udp.send(out, from.port, from.address)
  })
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject)
    udp.bind(port, '127.0.0.1', () => { udp.off('error', reject); resolve() })
  })

  function onConnection (socket: net.Socket): void {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let pending = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      if (tcpMode === 'silent') return
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const query = pending.subarray(2, 2 + pending.readUInt16BE(0))
        pending = pending.subarray(2 + query.length)
        const out = answerTo(query, true)
        if (out === undefined) return socket.destroy()
        const length = Buffer.alloc(2)
        length.writeUInt16BE(out.length)
        socket.write(Buffer.concat([length, out]))
      }
    })
  }
  async function listen (): Promise<void> {
    const server = net.createServer(onConnection)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => { server.off('error', reject); resolve() })
    })
    tcp = server
  }
  async function unlisten (): Promise<void> {
    const server = tcp
    tcp = undefined
    for (const socket of sockets) socket.destroy()
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  await listen()

  return {
    server: `127.0.0.1:${port}`,
    get queries () { return state.queries },
    get tcpQueries () { return state.tcpQueries },
    get answer () { return state.answer },
    set answer (next) { state.answer = next },
    get truncate () { return state.truncate },
    set truncate (on) { state.truncate = on },
    async setTcp (mode) {
      tcpMode = mode
      if (mode === 'refuse') await unlisten()
      else if (tcp === undefined) await listen()
    },
    async close () {
      await unlisten()
      await new Promise<void>((resolve) => udp.close(() => resolve()))
    }
  }
}
