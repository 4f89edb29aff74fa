'use strict'

// Child process of bench/instructions.js, run under valgrind: one proxy app, `count` GETs sent to it
// in process (fastify.inject, one at a time), then exit. No health checks, no timers of our own: every
// instruction counted is startup or the request path, and startup is the same for any `count`.
//   node --single-threaded bench/instructions-app.js <bare | path of a fastify-lolly checkout> <count> <upstream url>

const path = require('node:path')
const Fastify = require('fastify')

const [which, count, upstream] = process.argv.slice(2)

async function main () {
  const app = Fastify()
  if (which === 'bare') {
    await app.register(require('@fastify/reply-from'), { base: upstream })
  } else {
    await app.register(require(path.resolve(which, 'dist', 'index.js')), { targets: [upstream], balancer: 'round-robin' })
  }
  app.get('/*', (request, reply) => reply.from())
  await app.ready()
  for (let i = 0; i < Number(count); i++) {
    const res = await app.inject('/payload')
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.body}`)
  }
  await app.close()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
