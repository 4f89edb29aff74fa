import { test } from 'tap'
import { execFile } from 'node:child_process'
import path from 'node:path'

// Runs against the built package by its own name, as a user's project would load it.
const root = path.join(__dirname, '..')

function run (args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`)); else resolve(stdout.trim())
    })
  })
}

test('require(\'fastify-lolly\') is the plugin, with .default and .lolly', async (t) => {
  const out = await run(['-e', `
    const lolly = require('fastify-lolly')
    const meta = lolly[Symbol.for('plugin-meta')]
    console.log(typeof lolly, lolly.default === lolly, lolly.lolly === lolly, meta.name, typeof lolly.errors.InvalidOptionError)`])
  t.equal(out, 'function true true fastify-lolly function')
})

test('ESM: default and named imports are the plugin', async (t) => {
  const out = await run(['--input-type=module', '-e', `
    import lolly, { lolly as named, errors, stateChannel, membershipChannel } from 'fastify-lolly'
    console.log(typeof lolly, named === lolly, typeof errors.NoAvailableTargetError, stateChannel.name, membershipChannel.name)`])
  t.equal(out, 'function true function lolly:target-state lolly:target-membership')
})

test('the built package registers and proxies from ESM', async (t) => {
  const out = await run(['--input-type=module', '-e', `
    import http from 'node:http'
    import Fastify from 'fastify'
    import lolly from 'fastify-lolly'
    const up = http.createServer((req, res) => res.end('esm ' + req.url))
    await new Promise((r) => up.listen(0, '127.0.0.1', r))
    const app = Fastify()
    await app.register(lolly, { targets: ['http://127.0.0.1:' + up.address().port] })
    app.get('/*', (req, reply) => reply.from())
    console.log((await app.inject('/ok')).body)
    await app.close(); up.close()`])
  t.equal(out, 'esm /ok')
})
