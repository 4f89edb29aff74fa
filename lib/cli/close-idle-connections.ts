import type { FastifyInstance } from 'fastify'

/**
 * Fastify's close() stops accepting and closes the keep-alive connections that are idle at that
 * moment; a connection that was busy then would stay open after its response (and hold close() up)
 * until the client or keepAliveTimeout (72 s) closed it. While closing, each response closes its
 * connection: `Connection: close` if its headers are still to be sent, else once it is done.
 * HTTP/2 has no Connection header (Node drops it with a warning): its sessions get GOAWAY instead
 * (close-http2-sessions.ts).
 */
export function closeConnectionsWhenDone (app: FastifyInstance): void {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (request, reply) => {
    if (closing && request.raw.httpVersionMajor < 2) reply.header('connection', 'close')
  })
  app.addHook('onResponse', async () => {
    // After Node has detached the finished response from its socket, which makes the socket idle.
    if (closing) setImmediate(() => app.server.closeIdleConnections())
  })
}
