import { test } from 'tap'
import Fastify from 'fastify'
import { request } from 'undici'
import lolly from '../lib/index.js'
import { LollyRouter } from '../lib/fastify/lolly-router.js'
import { startUpstream } from './helpers/upstreams.js'

test('the router reply-from holds owns nothing to close', async (t) => {
  const up = await startUpstream('up')
  const app = Fastify()
  t.teardown(async () => { await app.close(); await up.close() })
  await app.register(lolly, { targets: [up.url] })
  app.get('/*', (_req, reply) => reply.from())
  const router = new LollyRouter()

  // Closing or destroying the router leaves the pools (the plugin's to close) serving.
  await router.close()
  await new Promise<void>((resolve) => router.close(resolve))
  await router.destroy()
  await router.destroy(new Error('x'))
  await new Promise<void>((resolve) => router.destroy(resolve))
  await new Promise<void>((resolve) => router.destroy(null, resolve))
  t.equal((await app.inject('/x')).body, 'up GET /x', 'the app still answers')
  const again = await request('http://ignored.invalid/again', { dispatcher: app.lolly.upstreams.default.dispatcher })
  t.equal(await again.body.text(), 'up GET /again', 'the pool still serves')
})
