import { test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import Ajv from 'ajv'
import { parse as parseYaml } from 'yaml'
import { checkConfig } from '../lib/cli/run-gateway.js'
import { readGatewayConfig } from '../lib/cli/gateway-config.js'
import { SCHEMA_FILE, publishedSchemaText } from '../lib/cli/published-schema.js'
import { didYouMean, editDistance } from '../lib/options/did-you-mean.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'
import { schemaCheck } from '../lib/options/schema-check.js'
import { FakeCliProcess } from './helpers/fake-cli-process.js'

// The options' JSON Schema: the messages its errors become, the "did you mean", and the schema file
// the package publishes for editors (current, and satisfied by every example).

const root = join(__dirname, '..')
const targets = ['http://127.0.0.1:1']

function messageOf (options: unknown): string {
  try {
    readPluginOptions(options)
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('no error')
}

test('did you mean: same letters in another case first, then the nearest key within a few edits', async (t) => {
  const known = ['healthCheck', 'retry', 'on', 'url', 'maxEjectTime', 'maxFails']
  t.equal(didYouMean('helthCheck', known), 'healthCheck', 'a letter left out')
  t.equal(didYouMean('healthcheck', known), 'healthCheck', 'case')
  t.equal(didYouMean('Retry', known), 'retry')
  t.equal(didYouMean('rtery', known), 'retry', 'a transposition is one edit')
  t.equal(didYouMean('maxfail', known), 'maxFails')
  t.equal(didYouMean('x', known), undefined, 'two edits make any short key near: one is the limit up to 3 letters')
  t.equal(didYouMean('ur', known), 'url')
  t.equal(didYouMean('timeout', known), undefined, 'nothing near')
  t.equal(editDistance('ab', 'ba'), 1)
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('kitten', 'sitting'), 3)
})

test('unknown keys anywhere list the known ones and the near miss', async (t) => {
  t.match(messageOf({ targets, helthCheck: true }), /^helthCheck is not a known option \(known: targets, upstreams, .*\); did you mean healthCheck\?$/)
  t.equal(messageOf({ targets, passive: { maxFail: 3 } }),
    'passive.maxFail is not a known option (known: maxFails, failWindow, ejectTime, maxEjectTime, maxEjectedPercent, statuses); did you mean maxFails?')
  t.equal(messageOf({ targets: [{ url: 'http://a:1', wieght: 2 }] }),
    'targets[0].wieght is not a known option (known: url, name, weight, backup, down, maxConnections); did you mean weight?')
  t.equal(messageOf({ targets, retry: { budget: { percnt: 5 } } }),
    'retry.budget.percnt is not a known option (known: percent, minConcurrency); did you mean percent?')
  t.equal(messageOf({ targets, status: { pth: '/x', zzz: 1 } }), 'status.pth is not a known option (known: path, onRequest, actions, history); did you mean path?')
  t.equal(messageOf({ targets, metrics: { quite: 1 } }), 'metrics.quite is not a known option (known: registry, prefix, buckets)', 'no near key, no guess')
})

test('a value meant for one branch is described by what the value was meant to be', async (t) => {
  const cases: Array<[unknown, string]> = [
    // On/off sections: a boolean or an object, and inside the object each key's own expectation.
    [{ targets, passive: 'on' }, "passive must be a boolean or an object, got 'on'"],
    [{ targets, passive: { maxFails: 0 } }, 'passive.maxFails must be an integer from 1 to 1000, got 0'],
    [{ targets, retry: { budget: 5 } }, 'retry.budget must be a boolean or an object, got 5'],
    [{ targets, affinity: true }, 'affinity must be false or an object ({ cookie: { secret, ... } }), got true'],
    // Targets: the entry's key says which kind it is.
    [{ targets: [{ dns: 'http://api.internal', family: 5 }] }, "targets[0].family must be 4, 6 or 'both', got 5"],
    [{ targets: [{ dns: 'http://api.internal', url: 'http://a:1' }] }, 'targets[0].url is not a known option (known: dns, weight, backup, maxConnections, family, maxTargets, hold)'],
    [{ targets: [{ srv: 'api.service.consul' }] }, "targets[0].srv must be an SRV name like _http._tcp.api.service.consul, got 'api.service.consul'"],
    [{ targets: [{ discover: 'consul' }] }, "targets[0].discover must be a function ({ signal }) => AsyncIterable of target lists, got 'consul'"],
    [{ targets: [{ weight: 2 }] }, 'targets[0].url must be a URL string, got undefined'],
    [{ targets: [null] }, 'targets[0] must be a URL string or an object with a url, got null'],
    // anyOf and if/then leaves.
    [{ targets, hashKey: 42 }, "hashKey must be 'ip', 'url', 'header:NAME', 'cookie:NAME' or a function, got 42"],
    [{ targets, hashBalanceFactor: 0.5 }, 'hashBalanceFactor must be 0 (off) or a number >= 1, got 0.5'],
    [{ targets, hashBalanceFactor: '2' }, "hashBalanceFactor must be a number from 0 to 100, got '2'"],
    [{ targets, healthCheck: { expect: { status: ['2xy'] } } }, "healthCheck.expect.status[0] must be a status from 100 to 599, a range 'from-to' or a class '2xx', got '2xy'"],
    [{ targets, healthCheck: { expect: { body: /ok/ } }, metrics: { registry: {} } }, 'metrics.registry must be a prom-client Registry, got {}'],
    [{ targets, healthCheck: { headers: { 'x-a': 1 } } }, 'healthCheck.headers["x-a"] must be a string without CR, LF or NUL, got 1'],
    [{ upstreams: { 'my-api': { targets, connections: 0 } } }, 'upstreams["my-api"].connections must be an integer from 1 to 65536, got 0'],
    [Object.create({ targets }), 'targets must be a non-empty array of targets, got undefined'],
    [{ upstreams: { api: { connections: 2 } } }, 'upstreams.api.targets must be a non-empty array of targets, got undefined']
  ]
  for (const [options, message] of cases) t.equal(messageOf(options), message)
})

test('objects without a prototype are options like any other, and merge key by key', async (t) => {
  const bare = (object: Record<string, unknown>): Record<string, unknown> => Object.assign(Object.create(null), object)
  const options = readPluginOptions(bare({
    healthCheck: bare({ expect: bare({ status: [204] }) }),
    upstreams: bare({ api: bare({ targets, healthCheck: bare({ expect: bare({ body: 'ok' }) }) }) })
  }))
  t.match(options.upstreams.get('api')!.healthCheck, { expectStatus: [{ from: 204, to: 204 }], expectBody: 'ok' })
})

test('options are data: a class instance, or an object inheriting keys, is refused where an object is meant', async (t) => {
  // ajv reads own keys only, and the readers read what a prototype holds: an inherited retry.attempts
  // of -1 went to the pools unchecked before lollyPlain.
  class Retry { get attempts (): number { return -1 } }
  t.equal(messageOf({ targets, retry: new Retry() }), 'retry must be a boolean or an object, got Retry {}')
  t.equal(messageOf(Object.assign(Object.create({ retry: { attempts: -1 } }), { targets })), "options must be an object, got { targets: [ 'http://127.0.0.1:1' ] }")
  t.equal(messageOf({ targets: [Object.assign(Object.create({ weight: 0 }), { url: targets[0] })] }), "targets[0] must be a URL string or an object with a url, got { url: 'http://127.0.0.1:1' }")
  t.equal(messageOf({ upstreams: Object.assign(Object.create({ api: { targets } }), { web: { targets } }) }), 'upstreams must be an object, got { web: { targets: [Array] } }')
  class Headers { 'x-a' = 'b' }
  t.match(messageOf({ targets, healthCheck: { headers: new Headers() } }), /^healthCheck\.headers must be an object of header names to string values, got Headers/)
  t.match(messageOf({ targets, affinity: new Retry() }), /^affinity must be /)
})

test('a lolly file cannot have status.actions: its buttons need status.onRequest, a function no file holds', async (t) => {
  t.throws(() => readGatewayConfig({ targets, status: { actions: true } }, 'lolly.yaml'),
    { message: 'lolly.yaml: status.actions is not a known option (known: path, history)' })
  t.equal(readGatewayConfig({ targets, status: { history: 5 } }, 'lolly.yaml').normalized.status!.history, 5)
})

test('a schema without an expectation falls back to ajv\'s words, still with the path and the value', async (t) => {
  const check = schemaCheck({ type: 'object', properties: { port: { type: 'integer' } } }, 'thing')
  t.throws(() => check({ port: 'x' }), { code: 'FST_LOLLY_INVALID_OPTION', message: "port must be integer, got 'x'" })
  t.throws(() => check(5, 'where'), { message: 'where must be object, got 5' })
  t.doesNotThrow(() => check({ port: 1 }))
})

test('the published schema is the one the TypeScript source generates', async (t) => {
  t.equal(readFileSync(join(root, SCHEMA_FILE), 'utf8'), publishedSchemaText(), 'run `npm run build` to regenerate schema/lolly.schema.json')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.equal(pkg.exports['./schema.json'], `./${SCHEMA_FILE}`)
  t.ok(pkg.files.includes('schema'))
})

test('every example file satisfies the published schema, names it for editors, and reads', async (t) => {
  const ajv = new Ajv({ allowUnionTypes: true, strictRequired: false })
  ajv.addKeyword('patternErrorMessage')
  const validate = ajv.compile(JSON.parse(publishedSchemaText()))
  const files = ['lolly.yaml', 'lolly.json', ...readdirSync(join(root, 'examples/kubernetes')).filter((f) => f === 'lolly.yaml').map((f) => `kubernetes/${f}`)]
  t.equal(files.length, 3)
  for (const file of files) {
    const text = readFileSync(join(root, 'examples', file), 'utf8')
    const depth = file.split('/').length
    const reference = `${'../'.repeat(depth)}${SCHEMA_FILE}`
    const data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
    if (file.endsWith('.json')) t.equal(data.$schema, reference, `${file} names the schema`)
    else t.ok(text.startsWith(`# yaml-language-server: $schema=${reference}\n`), `${file} has the modeline`)
    t.ok(validate(data), `${file}: ${ajv.errorsText(validate.errors)}`)
    t.doesNotThrow(() => readGatewayConfig(data, file))
  }
  t.notOk(validate({ targets: ['http://a:1'], helthCheck: true }), 'the published schema refuses unknown keys too')
  t.notOk(validate({ targets: [{ discover: 'x' }] }), 'a file has no discover entries (functions)')
})

test('lolly --check validates through the same schema: a summary, or the file, the path and the near miss', async (t) => {
  const proc = new FakeCliProcess()
  t.equal(await checkConfig(join(root, 'examples/lolly.yaml'), {}, proc), 0)
  t.match(proc.out.text, /examples\/lolly\.yaml: OK \(/)
  const bad = new FakeCliProcess()
  t.equal(await checkConfig(join(root, 'test/fixtures/lolly-typo.yaml'), {}, bad), 1)
  t.match(bad.err.text, /lolly-typo\.yaml: upstreams\.api\.helthCheck is not a known option \(known: targets, .*\); did you mean healthCheck\?\n$/)
})
