import { fork, type ChildProcess } from 'node:child_process'
import diagnosticsChannel from 'node:diagnostics_channel'
import path from 'node:path'
import { test } from 'tap'
import { buildRig, installClock, tally } from './helpers/health-rig.js'
import { startUpstreams } from './helpers/upstreams.js'

const SCRIPT = path.join(__dirname, 'fixtures', 'restartable-upstream.js')

/** Starts the upstream script in a child process; resolves with it and its port once it listens. */
async function startChild (port: number): Promise<{ child: ChildProcess, port: number }> {
  const child = fork(SCRIPT, [String(port)], { stdio: 'ignore' })
  const message = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', resolve)
    child.once('error', reject)
  })
  return { child, port: message.port }
}

test('an upstream process killed with SIGKILL is ejected, traffic stays on the others, and it returns after a restart', async (t) => {
  const clock = installClock()
  const first = await startChild(0)
  const url = `http://127.0.0.1:${first.port}`
  const others = await startUpstreams(2)
  const published: unknown[] = []
  const onState = (message: unknown): void => { published.push(message) }
  diagnosticsChannel.subscribe('lolly:target-state', onState)
  const rig = await buildRig({ targets: [url, others[0].url, others[1].url] })
  let current = first.child
  t.teardown(async () => {
    diagnosticsChannel.unsubscribe('lolly:target-state', onState)
    current.kill('SIGKILL')
    await rig.app.close()
    await Promise.all(others.map((u) => u.close()))
    clock.uninstall()
  })

  t.same(tally(await rig.hit(9)), { child: 3, u0: 3, u1: 3 }, 'the child takes its share')

  const exited = new Promise((resolve) => first.child.once('exit', resolve))
  first.child.kill('SIGKILL')
  await exited
  const during = await rig.hitUntil(() => rig.target(url)!.state === 'ejected', 40)
  t.ok(during.length <= 15, `ejected after ${during.length} requests`)
  t.equal(rig.target(url)!.failures, 5)
  t.ok(during.every((s) => s === 'u0' || s === 'u1' || s === '502'), `failed requests answered 502 at worst (${during.join(' ')})`)

  const whileDown = await rig.hit(20)
  t.same(tally(whileDown), { u0: 10, u1: 10 }, 'while it is out every request succeeds on the others')

  const second = await startChild(first.port)
  current = second.child
  t.equal(second.port, first.port, 'restarted on the same port')
  clock.tick(29_999)
  t.equal(rig.target(url)!.state, 'ejected')
  clock.tick(1)
  t.equal(rig.target(url)!.state, 'healthy')
  const after = await rig.hit(9)
  t.same(tally(after), { child: 3, u0: 3, u1: 3 }, 'it is back in the rotation')

  const transitions = rig.changes.map((c) => `${c.target} ${c.from}->${c.to}`)
  t.same(transitions, [`${url} healthy->ejected`, `${url} ejected->healthy`])
  t.match(rig.changes[0].reason, /^passive: 5 failures within 10s \(last: (ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)\); ejected for 30s$/)
  t.equal(rig.changes[1].reason, 'ejection ended after 30s')
  t.same(published, rig.changes, 'the same transitions on the diagnostics channel')
  const lines = rig.logs.filter((l) => l.target === url && typeof l.to === 'string')
  t.same(lines.map((l) => [l.level, l.from, l.to]), [[40, 'healthy', 'ejected'], [30, 'ejected', 'healthy']], 'one log line per transition')
  t.match(lines[0].msg, `lolly: ${url} of upstream default is ejected (passive: 5 failures within 10s`)
  t.equal(lines[1].msg, `lolly: ${url} of upstream default is taking traffic again (ejection ended after 30s)`)
})
