'use strict'

// The floor of a Fastify proxy on undici: what the Fastify server, undici's client and the two writes
// cost with nothing of a balancer around them. One undici Pool per target (as fastify-lolly makes
// them: 128 connections), a round-robin counter, the request dispatched with the client's headers
// (less the hop-by-hop ones) and the answer handed to reply.send() as one Buffer, so onSend hooks
// would still run. No health, failover, X-Forwarded-*, timeouts of its own, streaming or error
// mapping: it is no proxy to use, only the cost a Fastify proxy cannot go under. fastify-lolly's row
// against this one is what its own layers (balancing, health, failover, reply-from compatibility) cost.

const { Pool, util } = require('undici')

// The same list fastify-lolly drops, from its build, so both drop the same headers.
const { HOP_BY_HOP } = require('../dist/http/header-names.js')

class BufferedAnswer {
  constructor (reply) {
    this.reply = reply
    this.chunks = []
  }

  onConnect () {}

  onHeaders (statusCode, rawHeaders) {
    if (statusCode < 200) return true
    const reply = this.reply
    reply.code(statusCode)
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = util.headerNameToString(rawHeaders[i])
      if (!HOP_BY_HOP.has(name)) reply.header(name, rawHeaders[i + 1].toString('latin1'))
    }
    return true
  }

  onData (chunk) {
    this.chunks.push(chunk)
    return true
  }

  onComplete () {
    const chunks = this.chunks
    this.reply.send(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
  }

  onError (err) {
    if (!this.reply.sent) this.reply.code(502).send(err.message)
  }
}

async function floorApp (targets) {
  const app = require('fastify')()
  const pools = targets.map((target) => new Pool(target, { connections: 128 }))
  app.addHook('onClose', () => Promise.all(pools.map((pool) => pool.close())))
  let next = 0
  app.get('/*', (request, reply) => {
    const pool = pools[next]
    next = next === pools.length - 1 ? 0 : next + 1
    const incoming = request.headers
    const headers = {}
    for (const name in incoming) if (!HOP_BY_HOP.has(name)) headers[name] = incoming[name]
    delete headers.host
    pool.dispatch({ path: request.url, method: request.method, headers }, new BufferedAnswer(reply))
    return reply
  })
  return { app, notes: ['no balancer, health or failover: the floor'] }
}

module.exports = { floorApp }
