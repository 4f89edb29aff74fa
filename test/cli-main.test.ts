import { test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { request } from 'undici'
import { main } from '../lib/cli/main.js'
import { runUntilSignal } from '../lib/cli/graceful-stop.js'
import { FakeCliProcess } from './helpers/fake-cli-process.js'
import { startUpstream } from './helpers/upstreams.js'

const { version } = require('../package.json') as { version: string }

async function configFile (t: { teardown (fn: () => unknown): void }, yaml: string): Promise<{ file: string, write (text: string): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lolly-main-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'lolly.yaml')
  await writeFile(file, yaml)
  return { file, write: (text) => writeFile(file, text) }
}

/** A server holding a port on 127.0.0.1, so listening there fails. */
async function occupiedPort (t: { teardown (fn: () => unknown): void }): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return (server.address() as AddressInfo).port
}

/** An upstream whose `/slow` answers only when released; `arrived(n)` waits for the n-th such request. */
async function slowUpstream () {
  const pending: Array<() => void> = []
  let received = 0
  const up = await startUpstream('up', (req, res) => {
    if (req.url !== '/slow') return res.end(`up ${req.url}`)
    received++
    pending.push(() => res.end('slow done'))
  })
  return {
    up,
    async arrived (n: number): Promise<void> {
      for (;;) {
        if (received >= n) return
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    },
    release (): void {
      for (const answer of pending.splice(0)) answer()
    }
  }
}

async function listening (proc: FakeCliProcess): Promise<string> {
  await proc.out.waitFor(/gateway listening on/)
  return proc.out.lines.find((line) => line.msg.startsWith('lolly: gateway listening on'))!.address as string
}

test('--help documents the flags, the file and the signals', async (t) => {
  const proc = new FakeCliProcess()
  t.equal(await main(['--help'], proc), 0)
  for (const text of ['--config <file>', '--demo', '--check', '--port', 'listen:', 'routes:', 'rewritePrefix', 'upstreams:', 'logger:', 'SIGHUP', 'SIGTERM', 'Exit codes', 'yaml-language-server: $schema=']) {
    t.ok(proc.out.text.includes(text), text)
  }
  t.equal(proc.err.text, '')
})

test('--version, bad arguments, a missing --config', async (t) => {
  const proc = new FakeCliProcess()
  t.equal(await main(['-v'], proc), 0)
  t.equal(proc.out.text, `${version}\n`)
  t.equal(await main(['--frobnicate'], proc), 2)
  t.match(proc.err.text, /^lolly: Unknown option '--frobnicate'.*\nRun "lolly --help" for usage\.\n$/s)
  const bare = new FakeCliProcess()
  t.equal(await main([], bare), 2)
  t.equal(bare.err.text, 'lolly: --config <file> is required (or --demo)\nRun "lolly --help" for usage.\n')
})

test('--check validates like a start and prints a summary; a bad file names the file and path, exit 1', async (t) => {
  const good = await configFile(t, 'targets: [http://127.0.0.1:9001, http://127.0.0.1:9002]\n')
  const proc = new FakeCliProcess()
  t.equal(await main(['--check', '-c', good.file], proc), 0)
  t.equal(proc.out.text, `${good.file}: OK (1 upstream, 2 targets, 1 route)\n`)
  await good.write('targets: [http://127.0.0.1:9001, { dns: "http://api.lolly.test:8080" }, { srv: _http._tcp.api.lolly.test }]\n')
  const discovering = new FakeCliProcess()
  t.equal(await main(['--check', '-c', good.file], discovering), 0)
  t.equal(discovering.out.text, `${good.file}: OK (1 upstream, 1 target and 2 discovery sources, 1 route)\n`, 'nothing is looked up by --check')
  await good.write('targets: [http://127.0.0.1:9001]\nroutes: [{ prefix: /a, upstream: nope }]\n')
  const bad = new FakeCliProcess()
  t.equal(await main(['--check', '-c', good.file], bad), 1)
  t.equal(bad.err.text, `lolly: ${good.file}: routes[0].upstream must be the name of an upstream (default), got 'nope'\n`)
  const start = new FakeCliProcess()
  t.equal(await main(['-c', good.file], start), 1, 'starting with it fails the same way')
  t.equal(start.err.text, bad.err.text)
})

test('a port that is taken: exit 1 with the reason', async (t) => {
  const port = await occupiedPort(t)
  const { file } = await configFile(t, 'logger: { level: silent }\ntargets: [http://127.0.0.1:9001]\n')
  const proc = new FakeCliProcess()
  t.equal(await main(['-c', file, '--host', '127.0.0.1', '--port', String(port)], proc), 1)
  t.match(proc.err.text, /^lolly: .*EADDRINUSE/)
})

test('runs the file\'s gateway; SIGHUP reloads; SIGTERM finishes the in-flight request and exits 0', async (t) => {
  const slow = await slowUpstream()
  const extra = await startUpstream('extra')
  t.teardown(() => Promise.all([slow.up.close(), extra.close()]))
  const config = await configFile(t, `listen: { port: 0 }\ntargets: [${slow.up.url}]\n`)
  const proc = new FakeCliProcess()
  const exit = main(['--config', config.file], proc)
  const origin = await listening(proc)

  t.equal(await (await request(`${origin}/hello?x=1`)).body.text(), 'up /hello?x=1')

  await config.write(`listen: { port: 0 }\ntargets: [${slow.up.url}, ${extra.url}]\n`)
  proc.signal('SIGHUP')
  await proc.out.waitFor(/reloaded .*: 1 target change\(s\) applied/)

  const inflight = request(`${origin}/slow`).then((res) => res.body.text())
  await slow.arrived(1)
  proc.signal('SIGTERM')
  await proc.out.waitFor(/SIGTERM received: no new connections, finishing the requests in flight/)
  proc.signal('SIGHUP')
  slow.release()
  t.equal(await inflight, 'slow done', 'the in-flight request completed')
  t.equal(await exit, 0)
  t.ok(proc.out.lines.some((line) => line.msg === 'lolly: stopped'))
  t.equal(proc.out.lines.filter((line) => /^lolly: reloaded/.test(line.msg)).length, 1, 'SIGHUP while stopping is ignored')
  t.equal(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT') + proc.listenerCount('SIGHUP'), 0, 'signal listeners removed')
})

test('a second signal exits 1 at once; shutdownTimeout bounds the wait', async (t) => {
  const slow = await slowUpstream()
  t.teardown(() => { slow.release(); return slow.up.close() })
  const config = await configFile(t, `listen: { port: 0 }\ntargets: [${slow.up.url}]\n`)

  const impatient = new FakeCliProcess()
  const exit = main(['-c', config.file], impatient)
  const first = request(`${await listening(impatient)}/slow`).then((res) => res.statusCode, () => 'dropped')
  await slow.arrived(1)
  impatient.signal('SIGINT')
  impatient.signal('SIGINT')
  t.equal(await exit, 1)
  t.match(impatient.out.text, /SIGINT received again: exiting without waiting for requests in flight/)
  slow.release()
  await first

  await config.write(`listen: { port: 0 }\nshutdownTimeout: 50\ntargets: [${slow.up.url}]\n`)
  const bounded = new FakeCliProcess()
  const boundedExit = main(['-c', config.file], bounded)
  const origin = await listening(bounded)
  const inflight = request(`${origin}/slow`).then((res) => res.statusCode, () => 'dropped')
  await slow.arrived(2)
  bounded.signal('SIGTERM')
  t.equal(await boundedExit, 1)
  t.match(bounded.out.text, /requests still in flight after shutdownTimeout \(50 ms\); exiting without them/)
  slow.release()
  await inflight
})

test('an error while closing exits 1', async (t) => {
  const proc = new FakeCliProcess()
  const logged: string[] = []
  const exit = runUntilSignal(proc, {
    close: () => Promise.reject(new Error('boom')),
    timeout: () => 0,
    log: (level, message) => logged.push(`${level} ${message}`)
  })
  t.equal(proc.listenerCount('SIGHUP'), 0, 'SIGHUP keeps its default without a reload handler')
  proc.signal('SIGTERM')
  t.equal(await exit, 1)
  t.same(logged, ['info lolly: SIGTERM received: no new connections, finishing the requests in flight', 'error lolly: error while stopping: boom'])
})

test('--demo through main: PORT, --port, Ctrl-C exits 0; a bad PORT or a taken port fail', async (t) => {
  const proc = new FakeCliProcess({ PORT: '0' })
  const exit = main(['--demo'], proc)
  const [, origin] = await proc.out.waitFor(/a gateway on (http:\/\/127\.0\.0\.1:\d+)/)
  t.match(await (await request(`${origin}/x`)).body.text(), /"upstream":"(alpha|bravo|charlie)"/)
  proc.signal('SIGINT')
  t.equal(await exit, 0)
  t.match(proc.out.text, /lolly: stopped\n$/)

  const twice = new FakeCliProcess()
  const twiceExit = main(['--demo', '--port', '0'], twice)
  await twice.out.waitFor(/Ctrl-C stops the demo/)
  twice.signal('SIGINT')
  twice.signal('SIGINT')
  t.equal(await twiceExit, 1, 'a second Ctrl-C does not wait')
  t.equal(twice.err.text, 'lolly: SIGINT received again: exiting without waiting for requests in flight\n')

  const badPort = new FakeCliProcess({ PORT: 'eighty' })
  t.equal(await main(['--demo'], badPort), 2)
  t.equal(badPort.err.text, 'lolly: PORT must be a port number from 0 to 65535, got "eighty"\n')

  const taken = await occupiedPort(t)
  const busy = new FakeCliProcess({ PORT: '' })
  t.equal(await main(['--demo', '--port', String(taken)], busy), 1)
  t.match(busy.err.text, /^lolly: the demo could not start: .*EADDRINUSE/)
})
