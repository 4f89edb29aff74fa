import { test, type Test } from 'tap'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import Fastify from 'fastify'
import { Agent, request } from 'undici'
import lolly from '../lib/index.js'
import { inflight } from './helpers/gateway.js'

// End to end: clients hammer the proxy while one of three upstream processes is killed (SIGKILL, so
// its sockets die mid-request and its port starts refusing). Failover must hide it: no GET fails.

async function startChild (t: Test, name: string): Promise<{ child: ChildProcess, url: string }> {
  const child = fork(join(__dirname, 'fixtures', 'failover-upstream.js'), [name, '3'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const [message] = await once(child, 'message') as [{ port: number }]
  return { child, url: `http://127.0.0.1:${message.port}` }
}

test('killing one of three upstream processes mid-run costs GET clients nothing', async (t) => {
  const upstreams = await Promise.all(['u0', 'u1', 'u2'].map((name) => startChild(t, name)))
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(lolly, { targets: upstreams.map((u) => u.url) })
  app.get('/*', (_req, reply) => reply.from())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const client = new Agent({ connections: 32 })
  t.teardown(() => client.close())
  const statuses = new Map<number, number>()
  const errors: string[] = []
  const servedBy = new Map<string, number>()
  let served = 0
  let servedAfterKill = 0
  // The kill comes once traffic is flowing (150 answers), and the run goes on 1.5 s after it; bounded
  // at 8 s however slow the machine is.
  let killedAt = 0
  const hardStop = Date.now() + 8000
  const running = () => Date.now() < hardStop && (killedAt === 0 || Date.now() < killedAt + 1500)

  async function worker (id: number): Promise<void> {
    for (let i = 0; running(); i++) {
      try {
        const res = await request(`${url}/w${id}/${i}`, { dispatcher: client })
        const body = await res.body.text()
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        const name = body.split(' ')[0]
        servedBy.set(name, (servedBy.get(name) ?? 0) + 1)
        if (killedAt !== 0) servedAfterKill++
        if (++served === 150) {
          upstreams[1].child.kill('SIGKILL')
          killedAt = Date.now()
        }
      } catch (err) {
        errors.push((err as Error).message)
      }
    }
  }

  await Promise.all(Array.from({ length: 24 }, (_, id) => worker(id)))

  const total = [...statuses.values()].reduce((a, b) => a + b, 0)
  t.comment(`${total} requests, ${servedAfterKill} after the kill; statuses ${JSON.stringify(Object.fromEntries(statuses))}; served by ${JSON.stringify(Object.fromEntries(servedBy))}`)
  const snapshot = app.lolly.upstreams.default.targets[1]
  t.comment(`killed target: ${snapshot.failures} failures, state ${snapshot.state}`)
  t.same(errors, [], 'no client error')
  t.same([...statuses.keys()], [200], 'every answer a 200')
  t.ok(killedAt !== 0, 'the target was killed under load')
  t.ok(servedAfterKill > 100, 'and traffic kept going after the kill')
  t.ok(snapshot.failures > 0, 'the killed target did fail tries, which were moved elsewhere')
  t.equal(inflight(app), 0)
})
