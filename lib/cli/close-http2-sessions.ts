import type { FastifyInstance } from 'fastify'
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2'

/**
 * HTTP/2: when the app closes, every session gets GOAWAY (session.close()), so its streams in flight
 * finish and then it closes, and no new stream starts on it. Without this an idle session a client
 * keeps open (browsers and curl --http2 do) held a graceful stop on Node 20 until shutdownTimeout
 * (30 s): its server.close() waits for sessions, and Fastify closes them only with
 * forceCloseConnections: true, which would also cut the requests in flight. Node 24's server.close()
 * does the same GOAWAY itself; doing it again there is harmless.
 */
export function closeHttp2SessionsWhenClosing (app: FastifyInstance): void {
  const server = app.server as unknown as Http2SecureServer
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  app.addHook('preClose', async () => {
    for (const session of sessions) session.close()
  })
}
