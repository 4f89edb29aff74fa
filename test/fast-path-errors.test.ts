import { test } from 'tap'
import { createRequire } from 'node:module'
import { wrapError } from '../lib/fastify/reply-from-errors.js'

// A caller's onError on the fast path gets the error reply-from would have made of the pool's.
const replyFromErrors = createRequire(__filename)('@fastify/reply-from/lib/errors.js') as Record<string, new (...args: unknown[]) => Error & { code: string, statusCode: number }>

test('the fast path wraps an error as reply-from does, with the error as its cause', async (t) => {
  const cases: Array<[string | undefined, string]> = [
    ['ENOTFOUND', 'ServiceUnavailableError'],
    ['UND_ERR_HEADERS_TIMEOUT', 'GatewayTimeoutError'],
    ['ECONNRESET', 'ConnectionResetError'],
    ['UND_ERR_SOCKET', 'UndiciSocketError'],
    ['UND_ERR_CONNECT_TIMEOUT', 'ConnectTimeoutError'],
    ['FST_LOLLY_BAD_GATEWAY', 'InternalServerError'],
    [undefined, 'InternalServerError']
  ]
  for (const [code, name] of cases) {
    const err = Object.assign(new Error('boom'), { code })
    const wrapped = wrapError(err) as Error & { code: string, statusCode: number, cause: unknown }
    // As reply-from's request callback makes them: only InternalServerError takes the message.
    const theirs = name === 'InternalServerError' ? new replyFromErrors[name]('boom', { cause: err }) : new replyFromErrors[name]({ cause: err })
    t.same([wrapped.code, wrapped.statusCode, wrapped.message], [theirs.code, theirs.statusCode, theirs.message], `${code}: reply-from's ${name}`)
    t.equal(wrapped.cause, err)
  }
})
