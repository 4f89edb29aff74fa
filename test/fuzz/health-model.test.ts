import diagnosticsChannel from 'node:diagnostics_channel'
import FakeTimers from '@sinonjs/fake-timers'
import fc from 'fast-check'
import type { FastifyBaseLogger } from 'fastify'
import { test } from 'tap'
import { diffTargets } from '../../lib/cli/reload-plan.js'
import { applyTargetChanges } from '../../lib/cli/target-changes.js'
import { SourceMembers } from '../../lib/discovery/source-members.js'
import { Discovery } from '../../lib/discovery/discovery.js'
import { LollyApi } from '../../lib/operator/lolly-api.js'
import { publicObserver } from '../../lib/operator/public-events.js'
import { readPluginOptions } from '../../lib/options/plugin-options.js'
import { readTarget } from '../../lib/options/target-options.js'
import type { NormalizedTarget, TargetOptions } from '../../lib/options/types.js'
import type { MembershipChange, PanicChange, StateChange } from '../../lib/pool/pool-events.js'
import type { Target, TargetState } from '../../lib/pool/target.js'
import { UpstreamPool } from '../../lib/pool/upstream-pool.js'
import { PoolDispatcher } from '../../lib/proxy/pool-dispatcher.js'
import { ALLOWED, HealthModel, type ModelSettings, type ModelTarget, type Outcome, type TargetSpec } from '../helpers/health-model.js'

// One pool's health owner against a model (test/helpers/health-model.ts), driven in-process with
// fake timers by random sequences of: probe results, traffic (picks through the pool's balancer,
// answers, failures, completions, bursts of failures), time, runtime calls through app.lolly's API
// (drain, disable, enable, a quick disable-enable, setWeight, addTarget, removeTarget), a discovery
// source's answers (through its SourceMembers) and reloads (a reload's target changes, applied
// through app.lolly as the CLI does: lib/cli/reload-plan.ts diffTargets, target-changes.ts
// applyTargetChanges). A reload that changes a pool's settings is refused as needing a restart
// (planReload), so there is no settings reload of a running pool to drive.
//
// After every step: the library's targets (state, in-flight, weights, tier, ejection) equal the
// model's; every transition is one the table in health-model.ts allows; each one is reported exactly
// once as an app.lolly 'state' event, a lolly:target-state message and a log line; no passive
// ejection goes past maxEjectedPercent or takes out the last healthy target; no pick returns a
// draining or disabled target (nor, outside panic mode, one that is not healthy); in-flight counts
// match and end at 0.
//
// CI runs a fixed seed. More runs: LOLLY_MODEL_RUNS=20000; another seed: LOLLY_MODEL_SEED=123. A
// failure prints its seed, path and commands (with a replayPath); to replay it, set LOLLY_MODEL_SEED,
// LOLLY_MODEL_PATH and LOLLY_MODEL_REPLAY to them.

// Of the seeds tried, one whose 2000 runs reach every corner in CORNERS and catch each fault this
// test was checked against: the two bugs it found put back (a probe count kept across a state that
// changed and changed back; a repeated ejection ended by probes when maxEjectTime leaves nothing to
// double) and passive health allowed to eject the last healthy target.
const SEED = 8
const RUNS = Number(process.env.LOLLY_MODEL_RUNS ?? 2000)
const START = 1_700_000_000_000
const STATUSES = [502, 503, 504]

const FIXED = ['http://127.0.0.2:1', 'http://127.0.0.2:2', 'http://127.0.0.2:3']
const RUNTIME = ['http://127.0.0.3:1', 'http://127.0.0.3:2']
const DISCOVERED = ['http://127.0.0.4:1', 'http://127.0.0.4:2', 'http://127.0.0.4:3']
// Runtime additions may take a URL the source lists too: the first owner keeps it.
const ADDABLE = [...RUNTIME, DISCOVERED[0]]
const ANY = [...FIXED, ...RUNTIME, ...DISCOVERED]

const short = (url: string): string => `${url.startsWith('http://127.0.0.2') ? 'F' : url.startsWith('http://127.0.0.3') ? 'R' : 'D'}${url.slice(-1)}`

interface Settings extends ModelSettings {
  balancer: 'round-robin' | 'least-connections' | 'first'
  file: TargetSpec[]
}

// ---- arbitraries ----

const specOf = (url: string, tiers: readonly number[], down: boolean): fc.Arbitrary<TargetSpec> => fc.record({
  url: fc.constant(url),
  weight: fc.integer({ min: 1, max: 3 }),
  tier: fc.constantFrom(...tiers),
  maxConnections: fc.constantFrom(0, 0, 1, 2),
  down: down ? fc.constantFrom(false, false, false, true) : fc.constant(false)
})

// A configuration file's targets (the initial ones, or a reload's): some of FIXED, at least one.
const fileArb: fc.Arbitrary<TargetSpec[]> = fc.tuple(...FIXED.map((url) => fc.option(specOf(url, [0, 0, 1], true), { nil: undefined }))).map((specs) => specs.filter((spec) => spec !== undefined)).filter((specs) => specs.length > 0)

const settingsArb: fc.Arbitrary<Settings> = fc.record({
  passive: fc.oneof(
    { weight: 1, arbitrary: fc.constant<false>(false) },
    {
      weight: 5,
      arbitrary: fc.record({
        maxFails: fc.integer({ min: 1, max: 3 }),
        failWindow: fc.constantFrom(500, 2000),
        ejectTime: fc.constantFrom(1000, 2000),
        factor: fc.constantFrom(1, 2, 4, 8),
        maxEjectedPercent: fc.constantFrom(1, 34, 50, 100)
      }).map(({ factor, ...passive }) => ({ ...passive, maxEjectTime: passive.ejectTime * factor }))
    }
  ),
  check: fc.option(fc.record({
    healthyThreshold: fc.integer({ min: 1, max: 3 }),
    unhealthyThreshold: fc.integer({ min: 1, max: 3 }),
    initialState: fc.constantFrom<'healthy' | 'unhealthy'>('healthy', 'healthy', 'unhealthy')
  }), { nil: null, freq: 3 }),
  slowStart: fc.constantFrom(0, 1000),
  panicPercent: fc.constantFrom(0, 0, 50),
  hold: fc.constantFrom(1000, 5000),
  maxTargets: fc.constantFrom(2, 100, 100),
  balancer: fc.constantFrom<Settings['balancer']>('round-robin', 'least-connections', 'first'),
  file: fileArb
})

// ---- the real side: one pool, wired as the plugin wires it (lib/fastify/plugin.ts) ----

interface OpenTry { target: Target, url: string, answered: boolean }
interface Tracked { what: string, real: { status: string, code?: string }, model: Outcome }

interface World {
  pool: UpstreamPool
  api: LollyApi
  members: SourceMembers
  clock: ReturnType<typeof FakeTimers.install>
  file: TargetSpec[]
  open: OpenTry[]
  tracked: Tracked[]
  lastPanic: boolean
  // what happened during the current step
  states: StateChange[]
  channel: StateChange[]
  logs: Array<{ level: string, change: Record<string, unknown> }>
  panics: PanicChange[]
  memberships: MembershipChange[]
  violations: string[]
  /** The steps of this run as they went, with the target each `#n` named. */
  trail: string[]
}

interface Model {
  health: HealthModel
  /** The open tries, in the order the world keeps them. */
  tries: Array<{ url: string, answered: boolean }>
  reloading: boolean
}

let current: World | undefined
diagnosticsChannel.subscribe('lolly:target-state', (message) => {
  if (current !== undefined && (message as StateChange).upstream === 'model') current.channel.push(message as StateChange)
})

function logger (lines: World['logs']): FastifyBaseLogger {
  const record = (level: string) => (object: unknown) => {
    if (typeof object === 'object' && object !== null && 'from' in object) lines.push({ level, change: object as Record<string, unknown> })
  }
  const log = { level: 'info', info: record('info'), warn: record('warn'), error: record('error'), fatal: record('fatal'), debug () {}, trace () {}, silent () {}, child: () => log }
  return log as unknown as FastifyBaseLogger
}

const targetOption = (spec: TargetSpec): TargetOptions =>
  ({ url: spec.url, weight: spec.weight, backup: spec.tier === 1, down: spec.down, maxConnections: spec.maxConnections })

function normalized (file: readonly TargetSpec[]): NormalizedTarget[] {
  return file.map((spec, i) => readTarget(targetOption(spec), `targets[${i}]`))
}

function build (settings: Settings, clock: World['clock']): World {
  // Each run from the same instant, with no timer left of the one before.
  clock.reset()
  const options = readPluginOptions({
    upstreams: {
      model: {
        targets: settings.file.map(targetOption),
        passive: settings.passive,
        ...(settings.check === null ? {} : { healthCheck: settings.check }),
        slowStart: settings.slowStart,
        panicPercent: settings.panicPercent,
        balancer: settings.balancer
      }
    }
  })
  const pool = new UpstreamPool(options.upstreams.get('model')!)
  const world: World = {
    pool,
    api: undefined as unknown as LollyApi,
    members: undefined as unknown as SourceMembers,
    clock,
    file: settings.file,
    open: [],
    tracked: [],
    lastPanic: false,
    states: [],
    channel: [],
    logs: [],
    panics: [],
    memberships: [],
    violations: [],
    trail: []
  }
  const log = logger(world.logs)
  const api = new LollyApi(new Map([['model', pool]]), new Map([[pool, new PoolDispatcher(pool)]]), 'model', new Discovery([pool], log))
  world.api = api
  world.members = new SourceMembers(pool, { name: 'provider', hold: settings.hold, maxTargets: settings.maxTargets }, log)
  // Told of each transition as it is made, before the public side: the rules that hold at that instant.
  pool.observe({
    stateChanged (change) {
      if (!ALLOWED[change.from].includes(change.to)) world.violations.push(`${short(change.target)}: ${change.from} → ${change.to} is not an allowed transition (${change.reason})`)
      // Passive health takes a healthy target to ejected; a discovered target back within hold
      // resumes its ejection from draining. Both within the cap, and never the last healthy target.
      if (change.to === 'ejected') {
        let eligible = 0
        let healthy = 0
        let ejected = 0
        for (const target of pool.targets) {
          if (target.state === 'draining' || target.state === 'disabled') continue
          eligible++
          if (target.state === 'healthy') healthy++
          if (target.state === 'ejected') ejected++
        }
        const cap = Math.max(1, Math.floor(eligible * (settings.passive as { maxEjectedPercent: number }).maxEjectedPercent / 100))
        if (healthy === 0) world.violations.push(`${short(change.target)}: passive health ejected the last healthy target (${change.reason})`)
        if (ejected > cap) world.violations.push(`${short(change.target)}: passive ejection makes ${ejected} of ${eligible} ejected, over the cap of ${cap}`)
      }
    }
  })
  pool.observeLast(publicObserver(api, log))
  api.on('state', (change) => world.states.push(change))
  api.on('panic', (change) => world.panics.push(change))
  api.on('target', (change) => world.memberships.push(change))
  current = world
  pool.announceStart()
  return world
}

async function teardown (world: World): Promise<void> {
  current = undefined
  world.members.close()
  await world.pool.close()
}

/** Lets every promise callback of the step run (setImmediate is not faked). */
function flush (): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function track (world: World, what: string, promise: Promise<unknown>, model: Outcome): Tracked {
  const tracked: Tracked = { what, real: { status: 'pending' }, model }
  promise.then(() => { tracked.real.status = 'resolved' }, (err: { code?: string }) => {
    tracked.real.status = 'rejected'
    tracked.real.code = err.code
  })
  world.tracked.push(tracked)
  return tracked
}

/** A call that throws at once: its error code, or undefined. */
function codeOf (call: () => unknown): string | undefined {
  try {
    call()
    return undefined
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  }
}

// ---- comparing the two after each step ----

function fail (message: string): never {
  throw new Error(current === undefined ? message : `${message}\n(steps of this run: ${current.trail.join(', ')})`)
}

function verify (model: Model, world: World, before: Map<Target, TargetState>): void {
  const health = model.health
  if (world.violations.length > 0) fail(world.violations.join('; '))

  if (world.states.length + world.channel.length + world.logs.length + health.events.length > 0) checkTransitions(health, world, before)
  if (world.memberships.length + health.membership.length > 0) {
    const members = world.memberships.map((m) => `${m.change} ${m.target}`).sort().join(', ')
    const expectedMembers = [...health.membership].sort().join(', ')
    if (members !== expectedMembers) fail(`membership events: expected [${expectedMembers}], got [${members}]`)
  }

  if (world.pool.health.panicking !== health.panicking) fail(`panicking is ${world.pool.health.panicking}, the model says ${health.panicking}`)
  if (world.panics.length !== health.panicFlips) fail(`${world.panics.length} panic events, the model expected ${health.panicFlips}`)
  for (const panic of world.panics) {
    if (panic.panicking === world.lastPanic) fail(`two panic events in a row say panicking: ${panic.panicking}`)
    world.lastPanic = panic.panicking
  }

  // The targets themselves.
  if (world.pool.targets.length !== health.targets.length || world.pool.targets.some((t, i) => t.url !== health.targets[i].url)) {
    fail(`targets: [${world.pool.targets.map((t) => short(t.url)).join(' ')}], the model has [${health.targets.map((t) => short(t.url)).join(' ')}]`)
  }
  world.pool.targets.forEach((target, i) => {
    const m = health.targets[i]
    if (target.inflight < 0) fail(`${short(target.url)} has ${target.inflight} in flight`)
    if (target.state !== m.state || target.inflight !== m.inflight || target.tier !== m.tier || target.weight !== m.weight ||
      target.maxConnections !== m.maxConnections || target.ejectedUntil !== m.ejectedUntil || target.source !== m.source || target.since !== m.since ||
      Math.abs(target.effectiveWeight - m.effectiveWeight) > 1e-9) {
      const fields = (t: typeof m | Target): string => JSON.stringify({ state: t.state, inflight: t.inflight, tier: t.tier, weight: t.weight, effectiveWeight: t.effectiveWeight, maxConnections: t.maxConnections, ejectedUntil: t.ejectedUntil, since: t.since, source: t.source })
      fail(`${short(target.url)}: ${fields(target)}, the model has ${fields(m)}`)
    }
  })

  for (const tracked of world.tracked) {
    const want = `${tracked.model.status}${tracked.model.code === undefined ? '' : ` ${tracked.model.code}`}`
    const got = `${tracked.real.status}${tracked.real.code === undefined ? '' : ` ${tracked.real.code}`}`
    if (want !== got) fail(`${tracked.what}: ${got}, the model expected ${want}`)
  }
  world.tracked = world.tracked.filter((tracked) => tracked.real.status === 'pending')

  world.states.length = 0
  world.channel.length = 0
  world.logs.length = 0
  world.panics.length = 0
  world.memberships.length = 0
  health.events = []
  health.membership = []
  health.panicFlips = 0
}

/** Each transition reported exactly once, on every channel, and the ones the model made. */
function checkTransitions (health: HealthModel, world: World, before: Map<Target, TargetState>): void {
  const seen = world.states.map((c) => `${short(c.target)} ${c.from}→${c.to}`)
  if (world.channel.length !== world.states.length || world.channel.some((c, i) => c !== world.states[i])) {
    fail(`lolly:target-state carried [${world.channel.map((c) => `${short(c.target)} ${c.from}→${c.to}`).join(', ')}], the 'state' events [${seen.join(', ')}]`)
  }
  const logged = world.logs.map((line) => `${short(String(line.change.target))} ${String(line.change.from)}→${String(line.change.to)}`)
  if (logged.join() !== seen.join()) fail(`logged [${logged.join(', ')}], the 'state' events [${seen.join(', ')}]`)
  for (const line of world.logs) {
    const level = line.change.to === 'healthy' ? 'info' : 'warn'
    if (line.level !== level) fail(`${String(line.change.target)} → ${String(line.change.to)} logged at ${line.level}, not ${level}`)
  }
  // The model's transitions, per target (the order between targets follows promise callbacks).
  const byTarget = (events: ReadonlyArray<{ url: string, from: string, to: string }>): string =>
    ANY.map((url) => events.filter((e) => e.url === url).map((e) => `${short(url)} ${e.from}→${e.to}`).join(', ')).filter((s) => s !== '').join('; ')
  const expected = byTarget(health.events)
  const actual = byTarget(world.states.map((c) => ({ url: c.target, from: c.from, to: c.to })))
  if (expected !== actual) fail(`transitions: expected [${expected}], got [${actual}]`)
  // Independently of the model: a target that was there before and after went from its old state to
  // its new one through its events, each one a change.
  for (const target of world.pool.targets) {
    const was = before.get(target)
    if (was === undefined) continue
    let state = was
    for (const change of world.states) {
      if (change.target !== target.url) continue
      if (change.from !== state || change.to === change.from) fail(`${short(target.url)}: event ${change.from}→${change.to} while it was ${state}`)
      state = change.to
    }
    if (state !== target.state) fail(`${short(target.url)}: went ${was} → ${target.state} but the events end at ${state}`)
  }
}

// ---- the commands ----

/** The step's act returns, for the trail, the target a `#n` named (or the targets its picks got). */
type Act = (model: Model, world: World) => void | string | Promise<void>

class Step implements fc.AsyncCommand<Model, World> {
  constructor (private readonly label: string, private readonly applies: (model: Model) => boolean, private readonly act: Act) {}

  check (model: Readonly<Model>): boolean {
    return this.applies(model as Model)
  }

  async run (model: Model, world: World): Promise<void> {
    const name = this.label.replace(/\(([a-z]*).*/, '$1')
    executed.set(name, (executed.get(name) ?? 0) + 1)
    const before = new Map(world.pool.targets.map((target) => [target, target.state]))
    world.trail.push(this.label)
    const acting = this.act(model, world)
    if (typeof acting === 'string') {
      world.trail[world.trail.length - 1] = this.label.includes('#') ? this.label.replace(/\w*#/, (ref) => `${acting}=${ref}`) : `${this.label} → ${acting}`
    } else if (acting !== undefined) await acting
    // A step with no promise callback due on either side (as far as the model knows, and no
    // promise of a call still to settle) needs no turn of the event loop. The model missing one
    // the library has would show at the next flush, the latest after all traffic ends.
    if (model.health.busy || world.tracked.length > 0) await flush()
    model.health.settle()
    verify(model, world, before)
  }

  toString (): string {
    return this.label
  }
}

const always = (): boolean => true
/** Steps run, by kind; corners of the rules the model went through (HealthModel#reached). */
const executed = new Map<string, number>()
const reached = new Map<string, number>()
// What the CI runs must go through, or the test would show less than it says. The rarest (an
// ejection that ran out while its target was out of its source) shows up at larger LOLLY_MODEL_RUNS.
const CORNERS = [
  'ejected', 'ejected again', 'failed on probation', 'kept: cap', 'kept: last healthy', 'ejection over',
  'ejection ended by probes', 'ejection not ended by probes', 'healthy → unhealthy', 'ejected → unhealthy',
  'back as healthy', 'back as unhealthy', 'back as disabled', 'back as draining', 'back ejected for the rest', 'back healthy: cap',
  'back in service when its hold ended', 'enabled while leaving', 'operator\'s state stands over its source\'s',
  'hold cut short by maxTargets', 'left its source', 'drain called off', 'removed at runtime', 'panic',
  'ramp resumed', 'ramp over while out', 'reload applied', 'reload failed', 'reload replaced a target'
]
const NO_EXCLUSION = { excludes: () => false }

function mustBe (model: Model, url: string): ReturnType<HealthModel['target']> & object {
  return model.health.target(url) ?? fail(`the model has no ${short(url)}`)
}

/**
 * Which target a call names: the nth of those in the pool (`#n`), or any URL, in the pool or not (an
 * unknown target, or one being removed, is refused).
 */
const targetRef = fc.oneof({ weight: 3, arbitrary: fc.nat().map((n) => `#${n}`) }, { weight: 1, arbitrary: fc.constantFrom(...ANY) })

function resolve (model: Model, ref: string): string {
  if (!ref.startsWith('#')) return ref
  const targets = model.health.targets
  return targets.length === 0 ? ANY[0] : targets[Number(ref.slice(1)) % targets.length].url
}

const label = (ref: string): string => ref.startsWith('#') ? ref : short(ref)

// The checker probes the targets in the pool, and only those (lib/health/active-checker.ts): a run of
// 1 to 3 results for the nth target, or the nth of those ejected or unhealthy (where health's rules meet).
const probeTargets = (model: Model, among: string): ModelTarget[] =>
  among === '' ? model.health.targets : model.health.targets.filter((target) => target.state === among)

const probe = fc.tuple(fc.constantFrom('', '', 'ejected', 'ejected', 'unhealthy'), fc.nat(), fc.boolean(), fc.constantFrom(1, 1, 2, 3)).map(([among, n, ok, times]) =>
  new Step(`probe(${among}#${n}, ${ok ? 'pass' : 'fail'}${times > 1 ? ` ×${times}` : ''})`,
    (model) => model.health.settings.check !== null && probeTargets(model, among).length > 0,
    (model, world) => {
      const candidates = probeTargets(model, among)
      const url = candidates[n % candidates.length].url
      for (let i = 0; i < times; i++) {
        world.pool.health.probed(world.pool.target(url)!, ok ? { ok, status: 200, error: null } : { ok, status: null, error: 'ECONNREFUSED' }, 1)
        model.health.probed(mustBe(model, url), ok)
      }
      return short(url)
    }))

/** One pick, checked against the model and the rules; the try started on both sides, or undefined. */
function pickAndStart (model: Model, world: World): OpenTry | undefined {
  const allowed = model.health.pickable()
  const picked = world.pool.pick(world.pool.balancers, '', NO_EXCLUSION)
  if (picked !== undefined && (picked.state === 'draining' || picked.state === 'disabled')) fail(`a new request went to ${short(picked.url)}, which is ${picked.state}`)
  if (picked !== undefined && picked.state !== 'healthy' && !world.pool.health.panicking) fail(`a new request went to ${short(picked.url)}, ${picked.state}, outside panic mode`)
  if (picked === undefined ? allowed.length > 0 : !allowed.some((t) => t.url === picked.url)) {
    fail(`picked ${picked === undefined ? 'nothing' : short(picked.url)}; the model allows [${allowed.map((t) => short(t.url)).join(' ')}]`)
  }
  if (picked === undefined) return undefined
  world.pool.tryStarted(picked)
  model.health.tryStarted(mustBe(model, picked.url))
  return { target: picked, url: picked.url, answered: false }
}

const send = fc.integer({ min: 1, max: 3 }).map((n) => new Step(`send(${n})`, always, (model, world) => {
  const picks: string[] = []
  for (let i = 0; i < n; i++) {
    const open = pickAndStart(model, world)
    picks.push(open === undefined ? 'none' : short(open.url))
    if (open === undefined) continue
    world.open.push(open)
    model.tries.push({ url: open.url, answered: false })
  }
  return picks.join(' ')
}))

// Requests that fail at once, each on the target its pick gave (a target refusing connections).
const burst = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT')).map(([n, reason]) =>
  new Step(`burst(${n}, ${reason})`, always, (model, world) => {
    const picks: string[] = []
    for (let i = 0; i < n; i++) {
      const open = pickAndStart(model, world)
      picks.push(open === undefined ? 'none' : short(open.url))
      if (open === undefined) continue
      world.pool.tryEnded(open.target)
      model.health.tryEnded(mustBe(model, open.url))
      world.pool.tryFailed(open.target, reason)
      model.health.tryFailed(mustBe(model, open.url))
    }
    return picks.join(' ')
  }))

const unanswered = (model: Model): number[] => model.tries.flatMap((t, i) => t.answered ? [] : [i])
const answered = (model: Model): number[] => model.tries.flatMap((t, i) => t.answered ? [i] : [])

function end (model: Model, world: World, at: number): void {
  const open = world.open.splice(at, 1)[0]
  model.tries.splice(at, 1)
  world.pool.tryEnded(open.target)
  model.health.tryEnded(mustBe(model, open.url))
}

const answer = fc.tuple(fc.nat(), fc.constantFrom(200, 200, 404, 500, 502, 503), fc.constantFrom(true, true, false)).map(([n, status, done]) =>
  new Step(`answer(#${n}, ${status}${done ? ', done' : ''})`, (model) => unanswered(model).length > 0, (model, world) => {
    const list = unanswered(model)
    const at = list[n % list.length]
    const url = model.tries[at].url
    world.pool.tryAnswered(world.open[at].target, status, 1)
    model.health.tryAnswered(mustBe(model, url), status)
    world.open[at].answered = true
    model.tries[at].answered = true
    if (done) end(model, world, at)
    return `a try on ${short(url)}`
  }))

const complete = fc.nat().map((n) => new Step(`complete(#${n})`, (model) => answered(model).length > 0, (model, world) => {
  const list = answered(model)
  const at = list[n % list.length]
  const url = model.tries[at].url
  end(model, world, at)
  return `a try on ${short(url)}`
}))

// A try that fails (connection error, reset, timeout, a body cut): undici ends it, then the pool hears why.
const failTry = fc.tuple(fc.nat(), fc.constantFrom('ECONNREFUSED', 'UND_ERR_HEADERS_TIMEOUT')).map(([n, reason]) =>
  new Step(`fail(#${n}, ${reason})`, (model) => model.tries.length > 0, (model, world) => {
    const at = n % model.tries.length
    const { target, url } = world.open[at]
    end(model, world, at)
    world.pool.tryFailed(target, reason)
    model.health.tryFailed(mustBe(model, url))
    return `a try on ${short(url)}`
  }))

const advance = fc.constantFrom(1, 250, 500, 1000, 1999, 4000, 30_000).map((ms) => new Step(`advance(${ms})`, always, async (model, world) => {
  const health = model.health
  const end = health.now + ms
  // Timer by timer, with promise callbacks in between, as a real event loop runs them.
  for (let at = health.nextTimerAt(); at !== undefined && at <= end; at = health.nextTimerAt()) {
    world.clock.tick(at - Date.now())
    health.fireDue(at)
    if (health.busy || world.tracked.length > 0) await flush()
    health.settle()
  }
  world.clock.tick(end - Date.now())
  health.now = end
}))

const drain = targetRef.map((ref) => new Step(`drain(${label(ref)})`, always, (model, world) => {
  const url = resolve(model, ref)
  track(world, `drain(${short(url)})`, world.api.drain('model', url), model.health.apiDrain(url))
  return short(url)
}))

const operator = fc.tuple(fc.constantFrom('disable', 'enable', 'enable'), targetRef).map(([call, ref]) =>
  new Step(`${call}(${label(ref)})`, always, (model, world) => {
    const url = resolve(model, ref)
    const got = codeOf(() => call === 'enable' ? world.api.enable('model', url) : world.api.disable('model', url))
    const want = call === 'enable' ? model.health.apiEnable(url) : model.health.apiDisable(url)
    if (got !== want) fail(`${call}(${short(url)}) threw ${got}, the model expected ${want}`)
    return short(url)
  }))

// Out of service and back between two probes (an operator's quick toggle), preferably of a target
// in the middle of a run of probe results that would change its state.
const toggle = fc.nat().map((n) => new Step(`toggle(#${n})`, (model) => model.health.targets.length > 0, (model, world) => {
  const counting = model.health.targets.filter((target) => (target.fails > 0 && (target.state === 'healthy' || target.state === 'ejected')) ||
    (target.passes > 0 && (target.state === 'unhealthy' || target.state === 'ejected')))
  const candidates = counting.length > 0 ? counting : model.health.targets
  const url = candidates[n % candidates.length].url
  for (const call of ['disable', 'enable'] as const) {
    const got = codeOf(() => world.api[call]('model', url))
    const want = call === 'enable' ? model.health.apiEnable(url) : model.health.apiDisable(url)
    if (got !== want) fail(`${call}(${short(url)}) threw ${got}, the model expected ${want}`)
  }
  return short(url)
}))

const setWeight = fc.tuple(targetRef, fc.integer({ min: 1, max: 4 })).map(([ref, weight]) =>
  new Step(`setWeight(${label(ref)}, ${weight})`, always, (model, world) => {
    const url = resolve(model, ref)
    const got = codeOf(() => world.api.setWeight('model', url, weight))
    const want = model.health.apiSetWeight(url, weight)
    if (got !== want) fail(`setWeight threw ${got}, the model expected ${want}`)
    return short(url)
  }))

const addTarget = fc.constantFrom(...ADDABLE).chain((url) => specOf(url, [0, 0, 1], true)).map((spec) =>
  new Step(`addTarget(${short(spec.url)}, w${spec.weight} t${spec.tier} max${spec.maxConnections}${spec.down ? ' down' : ''})`, always, (model, world) => {
    const got = codeOf(() => world.api.addTarget('model', targetOption(spec)))
    const want = model.health.apiAddTarget(spec)
    if (got !== want) fail(`addTarget threw ${got}, the model expected ${want}`)
  }))

const removeTarget = fc.constantFrom(...FIXED, ...RUNTIME, DISCOVERED[1]).map((url) => new Step(`removeTarget(${short(url)})`, always, (model, world) => {
  track(world, `removeTarget(${short(url)})`, world.api.removeTarget('model', url), model.health.apiRemoveTarget(url))
}))

// A discovery source's whole current set: some of DISCOVERED, each ready or terminating.
// Tiers up to 2, as an SRV answer's priorities make them.
const answerArb = fc.tuple(...DISCOVERED.map((url) => fc.option(fc.record({ spec: specOf(url, [0, 0, 1, 2], false), draining: fc.constantFrom(false, false, false, true) }), { nil: undefined })))
  .map((entries) => entries.filter((entry) => entry !== undefined))

const discover = answerArb.map((answer) => new Step(
  `discover([${answer.map(({ spec, draining }) => `${short(spec.url)} w${spec.weight} t${spec.tier} max${spec.maxConnections}${draining ? ' terminating' : ''}`).join(', ')}])`,
  always,
  (model, world) => {
    world.members.apply(answer.map(({ spec, draining }) => ({
      config: { ...readTarget({ url: spec.url, weight: spec.weight, maxConnections: spec.maxConnections }, 'answer'), tier: spec.tier, backup: spec.tier > 0, source: 'provider' },
      draining
    })))
    model.health.discovered(answer)
  }))

// Reloads never overlap (lib/cli/reloader.ts queues them): one at a time.
const reload = fileArb.map((file) => new Step(
  `reload([${file.map((s) => `${short(s.url)} w${s.weight} t${s.tier} max${s.maxConnections}${s.down ? ' down' : ''}`).join(', ')}])`,
  (model) => !model.reloading,
  (model, world) => {
    // The reloader keeps the file it last applied: a reload that failed leaves the one before.
    const changes = diffTargets('model', normalized(world.file), normalized(file))
    const real = applyTargetChanges(world.api, changes, () => {})
    real.then(() => { world.file = file }, () => {})
    track(world, 'reload', real, model.health.apiReload(changes, () => { model.reloading = false }))
    model.reloading = true
  }))

const commands = fc.commands([
  probe, probe, probe, send, send, send, burst, burst, answer, answer, complete, failTry, failTry, advance, advance, advance,
  drain, operator, operator, toggle, setWeight, addTarget, removeTarget, discover, discover, reload
], {
  maxCommands: 40,
  size: 'max',
  ...(process.env.LOLLY_MODEL_REPLAY === undefined ? {} : { replayPath: process.env.LOLLY_MODEL_REPLAY })
})

test('one pool\'s health owner follows its model through any sequence of probes, traffic, time, runtime calls, discovery and reloads', async (t) => {
  // Fakes setTimeout and Date only: setImmediate (flush) and promise callbacks stay real.
  const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: START })
  t.teardown(() => clock.uninstall())
  const parameters: fc.Parameters<[Settings, Iterable<fc.AsyncCommand<Model, World>>]> = {
    numRuns: RUNS,
    seed: process.env.LOLLY_MODEL_SEED === undefined ? SEED : Number(process.env.LOLLY_MODEL_SEED),
    ...(process.env.LOLLY_MODEL_PATH === undefined ? {} : { path: process.env.LOLLY_MODEL_PATH })
  }
  await fc.assert(fc.asyncProperty(settingsArb, commands, async (settings, cmds) => {
    const world = build(settings, clock)
    try {
      const model: Model = { health: new HealthModel(settings, settings.file, START, STATUSES), tries: [], reloading: false }
      verify(model, world, new Map())
      try {
        await fc.asyncModelRun(() => ({ model, real: world }), cmds)
      } finally {
        for (const [corner, n] of model.health.reached) reached.set(corner, (reached.get(corner) ?? 0) + n)
      }
      // All traffic finishes: in-flight returns to 0, and whatever waited for it is done.
      while (model.tries.length > 0) end(model, world, 0)
      await flush()
      model.health.settle()
      verify(model, world, new Map(world.pool.targets.map((target) => [target, target.state])))
      for (const target of world.pool.targets) if (target.inflight !== 0) fail(`${short(target.url)} has ${target.inflight} in flight after all traffic ended`)
      if (world.tracked.length > 0) fail(`still pending after all traffic ended: ${world.tracked.map((tracked) => tracked.what).join(', ')}`)
    } finally {
      await teardown(world)
    }
  }), parameters)
  const steps = [...executed.values()].reduce((sum, n) => sum + n, 0)
  t.ok(steps > RUNS * 10, `${RUNS} runs, ${steps} steps: ${JSON.stringify(Object.fromEntries(executed))}`)
  t.comment(`corners of the rules reached: ${JSON.stringify(Object.fromEntries([...reached].sort()))}`)
  if (RUNS >= 2000) t.same(CORNERS.filter((corner) => !reached.has(corner)), [], 'every corner of the rules was reached')
})
