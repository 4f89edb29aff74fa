import { test } from 'tap'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { StateChange } from '../../lib/pool/pool-events.js'
import { manyIPv4, startDnsmasq } from '../helpers/dnsmasq.js'
import { runLoad } from '../helpers/fault-targets.js'
import { startFleet, until } from '../helpers/fleet.js'
import { startGateway } from '../helpers/gateway.js'
import { capturedLogs } from '../helpers/health-rig.js'
import { startScriptedDns } from '../helpers/scripted-dns.js'

// DNS faults the discovery tests do not make (those cover a server stopped, SERVFAIL, REFUSED,
// timeouts, NXDOMAIN's grace, and a thousand records arriving over TCP after a truncated UDP answer):
// an answer truncated over UDP whose TCP retry fails, a name whose answer alternates every lookup, and
// a name whose answer doubles every lookup.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const NAME = 'api.lolly.test'
const FAST = { timeout: 200, tries: 1, minInterval: 50, maxInterval: 200 }

test('an answer truncated over UDP whose TCP retry is refused or never answered is a failed lookup: the last set serves, one line per streak', async (t) => {
  const fleet = await startFleet(['127.0.0.2', '127.0.0.3'])
  let addresses = ['127.0.0.2']
  const dns = await startScriptedDns(() => addresses)
  const { stream, logs } = capturedLogs()
  const gateway = await startGateway({ targets: [{ dns: `http://${NAME}:${fleet.port}`, family: 4, hold: 0 }], resolver: { servers: [dns.server], ...FAST } },
    undefined, { logger: { level: 'info', stream } })
  const { app } = gateway
  t.teardown(async () => { await app.close(); await fleet.close(); await dns.close() })
  const source = (): (typeof app.lolly.sources)[number] => app.lolly.sources[0]
  t.equal(app.lolly.targets.length, 1)

  // A new set the gateway never gets to read: a truncated answer is neither taken as it is nor as empty.
  addresses = ['127.0.0.3']
  dns.truncate = true
  await dns.setTcp('refuse')
  let failed = source().lookups.failed
  await until(() => source().lookups.failed > failed, 3000, 'TC, then TCP refused: a failed lookup')
  t.match(source().lastError, { message: /ECONNREFUSED/ })
  await dns.setTcp('silent')
  failed = source().lookups.failed
  await until(() => source().lookups.failed > failed, 5000, 'TC, then TCP silent: a failed lookup')
  t.match(source().lastError, { message: /ETIMEOUT/ }, 'a TCP retry that is never answered times out')
  const loadEnd = Date.now() + 200
  const load = await runLoad(gateway.url, { concurrency: 2, until: () => Date.now() > loadEnd })
  t.same(Object.keys(load.outcomes), ['200'], `${load.requests} requests, all served by the last set`)
  t.same(app.lolly.targets.map((target) => target.url), [fleet.urlOf('127.0.0.2')])
  t.equal(source().lookups.empty, 0, 'no truncated answer was taken for an empty one')
  const warnings = logs.filter((l) => /^lolly: lookup of dns:/.test(l.msg))
  t.equal(warnings.length, 1, 'one line for the whole streak, whichever way the TCP retry failed')

  // TCP answers again: every answer still comes truncated over UDP, and is read in full over TCP.
  const tcpBefore = dns.tcpQueries
  addresses = ['127.0.0.2', '127.0.0.3']
  await dns.setTcp('answer')
  await until(() => app.lolly.targets.length === 2, 3000, 'the new set, read over TCP')
  t.ok(dns.tcpQueries > tcpBefore, 'over TCP')
  t.ok(logs.some((l) => l.level === 30 && /answers again after \d+ failed lookups$/.test(l.msg)))
})

test('a flapping answer (two sets, every lookup the other): stayers untouched, flappers keep their state, ejection and slow start; one event per change; no client error', async (t) => {
  // .2 and .3 are in every answer; .4 in every other one, .5 (nothing listens there) in the others.
  const fleet = await startFleet(['127.0.0.2', '127.0.0.3', '127.0.0.4'])
  const sets = [['127.0.0.2', '127.0.0.3', '127.0.0.4'], ['127.0.0.2', '127.0.0.3', '127.0.0.5']]
  const dns = await startScriptedDns((n) => sets[n % 2])
  const { stream, logs } = capturedLogs()
  const SLOW_START = 600
  const gateway = await startGateway({
    targets: [{ dns: `http://${NAME}:${fleet.port}`, family: 4, hold: 5000 }],
    resolver: { servers: [dns.server], ...FAST, maxInterval: 50 },
    slowStart: SLOW_START,
    passive: { maxFails: 2, ejectTime: 30_000 }
  }, undefined, { logger: { level: 'info', stream } })
  const { app } = gateway
  t.teardown(async () => { await app.close(); await fleet.close(); await dns.close() })
  const url = (host: string): string => fleet.urlOf(`127.0.0.${host}`)
  const changes: StateChange[] = []
  const ejectedUntil: number[] = []
  const returns: number[] = []
  app.lolly.on('state', (change) => {
    changes.push(change)
    if (change.target === url('4') && change.to === 'healthy') returns.push(app.lolly.targets.find((s) => s.url === url('4'))!.effectiveWeight)
    if (change.target === url('5') && change.to === 'ejected') ejectedUntil.push(app.lolly.targets.find((s) => s.url === url('5'))!.ejectedUntil!)
  })
  const membership: Array<{ target: string, change: string }> = []
  app.lolly.on('target', (change) => { membership.push(change) })
  const addedAt = Date.now()

  const lookupsBefore = app.lolly.sources[0].lookups.ok
  const end = Date.now() + 1000
  const load = await runLoad(gateway.url, { concurrency: 4, until: () => Date.now() > end })
  dns.answer = () => sets[0]
  await until(() => app.lolly.targets.find((s) => s.url === url('4'))!.state === 'healthy', 2000, 'the flapping stopped with .4 in the answer')
  const lookups = app.lolly.sources[0].lookups.ok - lookupsBefore
  const of = (host: string): StateChange[] => changes.filter((c) => c.target === url(host))
  t.comment(`${lookups} lookups, ${load.requests} requests, ${changes.length} state changes`)

  t.ok(lookups >= 10, `it flapped (${lookups} lookups)`)
  t.same(Object.keys(load.outcomes), ['200'], 'no client error through the flaps')
  t.same([...of('2'), ...of('3')], [], 'the targets in every answer never changed state')
  t.same(membership.filter((m) => m.change === 'removed'), [], 'nothing left: every flapper came back within hold')

  for (const host of ['4', '5']) {
    const own = of(host)
    t.ok(own.length <= lookups + 1, `.${host}: ${own.length} changes for ${lookups} lookups: at most one per answer`)
    t.ok(own.every((change, i) => i === 0 || change.from === own[i - 1].to), `.${host}: each change starts where the last ended`)
  }
  t.ok(of('4').every((c) => (c.from === 'healthy' && c.to === 'draining') || (c.from === 'draining' && c.to === 'healthy')), '.4 only ever went draining and back to healthy')
  t.ok(ejectedUntil.length >= 2, `.5 was ejected, and came back ejected ${ejectedUntil.length - 1} times`)
  t.ok(ejectedUntil.every((at) => at === ejectedUntil[0]), 'each return resumed the same ejection: neither lost nor lengthened')
  const stateLines = logs.filter((l) => l.target === url('4') || l.target === url('5'))
  t.equal(stateLines.length, of('4').length + of('5').length + 2, 'one log line per change (and one per addition)')

  // .4 came in with the first answer, ramping; each return goes on with that ramp, at its age's step.
  t.ok(returns.length >= 5, `.4 came back ${returns.length} times`)
  t.ok(returns.every((weight, i) => i === 0 || weight >= returns[i - 1]), `its weight on each return only grew: ${returns.join(', ')}`)
  t.ok(returns.some((weight) => weight > 0.1 && weight < 1), 'it came back mid-ramp, at the step its age gives it')
  const four = app.lolly.targets.find((s) => s.url === url('4'))!
  t.ok(Date.now() - addedAt > SLOW_START, 'its slow start window is over')
  t.equal(four.effectiveWeight, four.weight, 'coming back within hold did not restart its slow start')
})

test('a name answering a new set every lookup: maxTargets bounds its targets in the pool, those held after they left included', async (t) => {
  // Four new addresses each lookup, none ever again: each answer's four leave at the next and are held.
  const dns = await startScriptedDns((n) => [1, 2, 3, 4].map((i) => `127.2.${n % 250}.${i}`))
  const gateway = await startGateway({
    targets: [{ dns: `http://${NAME}:8080`, family: 4, hold: 10_000, maxTargets: 6 }],
    resolver: { servers: [dns.server], ...FAST, maxInterval: 50 }
  })
  const { app } = gateway
  t.teardown(async () => { await app.close(); await dns.close() })
  let most = 0
  const removed: string[] = []
  app.lolly.on('target', (change) => { if (change.change === 'removed') removed.push(change.target) })
  while (app.lolly.sources[0].lookups.ok < 15) {
    await new Promise((resolve) => setTimeout(resolve, 5))
    most = Math.max(most, app.lolly.targets.length)
  }
  t.equal(app.lolly.sources[0].targets, 4, 'four listed')
  t.ok(most <= 6, `at most maxTargets (6) in the pool between answers (${most}), not 4 per answer within hold`)
  t.ok(removed.length >= 4 * 12, `${removed.length} held targets went before their hold ended`)
  const answerOf = (url: string): number => Number(new URL(url).hostname.split('.')[2])
  t.ok(removed.every((url, i) => i === 0 || answerOf(url) >= answerOf(removed[i - 1])), 'those that left first went first')
  const held = app.lolly.targets.filter((target) => target.state === 'draining')
  t.equal(held.length, 2, 'the room left (6 - 4) holds two that left')
  t.ok(held.every((target) => removed.every((url) => answerOf(url) <= answerOf(target.url))), 'the last to leave')
})

test('a name whose answer doubles every lookup, 1 to 2048 addresses: every address a target up to maxTargets, then capped, said once; time and memory stay small', async (t) => {
  const dns = await startDnsmasq({ a: { [NAME]: manyIPv4(1) } })
  const { stream, logs } = capturedLogs()
  const gateway = await startGateway({ targets: [{ dns: `http://${NAME}:8080`, family: 4 }], resolver: { servers: [dns.server], ...FAST } },
    undefined, { logger: { level: 'info', stream } })
  const { app } = gateway
  t.teardown(async () => { await app.close(); await dns.close() })
  const urls = (): Set<string> => new Set(app.lolly.targets.map((target) => target.url))
  gc()
  const heapBefore = process.memoryUsage().heapUsed
  const delay = monitorEventLoopDelay({ resolution: 5 })
  delay.enable()
  const steps: string[] = []
  for (let n = 2; n <= 512; n *= 2) {
    const expected = manyIPv4(n).map((address) => `http://${address}:8080`)
    await dns.setRecords({ a: { [NAME]: manyIPv4(n) } })
    const took = await until(() => app.lolly.targets.length === n, 3000, `${n} targets`)
    steps.push(`${n}: ${took} ms`)
    t.same(urls(), new Set(expected), `${n} addresses, ${n} targets, each of them`)
  }
  delay.disable()
  gc()
  const perTarget = (process.memoryUsage().heapUsed - heapBefore) / 511
  t.comment(`followed ${steps.join(', ')}; heap ${(perTarget / 1024).toFixed(1)} KiB a target; event-loop delay max ${(delay.max / 1e6).toFixed(0)} ms`)
  t.ok(perTarget < 64 * 1024, `${(perTarget / 1024).toFixed(1)} KiB of heap a target`)
  t.ok(delay.max / 1e6 < 500, `the event loop was never held up long (max ${(delay.max / 1e6).toFixed(0)} ms)`)
  const added = logs.filter((l) => / was added to upstream default by /.test(l.msg))
  t.equal(added.length, 512, 'one line per target added, none repeated')

  for (const n of [1024, 2048]) {
    await dns.setRecords({ a: { [NAME]: manyIPv4(n) } })
    const ok = app.lolly.sources[0].lookups.ok
    await until(() => app.lolly.sources[0].lookups.ok >= ok + 2, 3000, `${n} answered`)
    t.comment(`${n} answered: ${app.lolly.sources[0].targets} listed, ${app.lolly.targets.length} in the pool`)
  }
  t.equal(app.lolly.sources[0].targets, 1000, 'maxTargets (1000 by default) holds')
  t.equal(logs.filter((l) => /\(maxTargets\)$/.test(l.msg)).length, 1, 'said once for the streak')
})
