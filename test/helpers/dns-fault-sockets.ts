import dgram from 'node:dgram'
import net from 'node:net'

/**
 * The sockets of the dnsmasq harness (test/helpers/dnsmasq.ts) on 127.0.0.1: the port dnsmasq
 * listens on, and the upstreams its servfail and timeout names are forwarded to (one answers
 * SERVFAIL, one never answers).
 */

async function bindUdp (socket: dgram.Socket, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject)
      resolve()
    })
  })
}

/** A port free on 127.0.0.1 for both UDP and TCP at the time of asking (never 53: an ephemeral one). */
export async function freePort (): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const udp = dgram.createSocket('udp4')
    await bindUdp(udp, 0)
    const port = udp.address().port
    const tcp = net.createServer()
    const free = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false))
      tcp.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(true))
    })
    if (free) await new Promise((resolve) => tcp.close(resolve))
    await new Promise<void>((resolve) => udp.close(resolve))
    if (free && port !== 53) return port
  }
  throw new Error('dnsmasq harness: found no port free for both UDP and TCP on 127.0.0.1')
}

/**
 * The answer to a DNS query with no records and `rcode`: the query's id, opcode, RD and question.
 * undefined for what is not a query with at most one uncompressed question.
 */
function errorReply (query: Buffer, rcode: number): Buffer | undefined {
  if (query.length < 12 || (query[2] & 0x80) !== 0) return undefined
  const questions = query.readUInt16BE(4)
  if (questions > 1) return undefined
  let end = 12
  if (questions === 1) {
    while (end < query.length && query[end] !== 0) {
      if ((query[end] & 0xc0) !== 0) return undefined
      end += query[end] + 1
    }
    end += 5 // the root label, QTYPE, QCLASS
    if (end > query.length) return undefined
  }
  const reply = Buffer.from(query.subarray(0, end))
  reply[2] = 0x80 | (query[2] & 0x79) // QR; the opcode and RD of the query
  reply[3] = 0x80 | rcode // RA
  reply.writeUInt16BE(0, 6)
  reply.writeUInt16BE(0, 8)
  reply.writeUInt16BE(0, 10)
  return reply
}

/** A UDP socket on 127.0.0.1 that answers every query with `rcode`, or never answers (null). */
async function fakeUpstream (rcode: number | null): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4')
  await bindUdp(socket, 0)
  socket.on('error', () => {})
  socket.on('message', (query, from) => {
    if (rcode === null) return
    const reply = errorReply(query, rcode)
    if (reply !== undefined) socket.send(reply, from.port, from.address)
  })
  socket.unref()
  return socket
}

/** The SERVFAIL and the timeout upstreams of one server, each opened when first needed and kept until close. */
export class FaultSockets {
  private servfail: dgram.Socket | undefined
  private timeout: dgram.Socket | undefined

  /** Opens the SERVFAIL upstream if `servfail`, the timeout one if `timeout`, unless open already. */
  async open (servfail: boolean, timeout: boolean): Promise<void> {
    if (servfail && this.servfail === undefined) this.servfail = await fakeUpstream(2)
    if (timeout && this.timeout === undefined) this.timeout = await fakeUpstream(null)
  }

  /** The SERVFAIL upstream's port; only once it is open. */
  get servfailPort (): number { return (this.servfail as dgram.Socket).address().port }
  /** The timeout upstream's port; only once it is open. */
  get timeoutPort (): number { return (this.timeout as dgram.Socket).address().port }

  async close (): Promise<void> {
    for (const socket of [this.servfail, this.timeout]) {
      if (socket !== undefined) await new Promise<void>((resolve) => socket.close(resolve))
    }
    this.servfail = undefined
    this.timeout = undefined
  }
}
