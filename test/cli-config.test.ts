import { test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { demoPort, readArgs } from '../lib/cli/args.js'
import { formatOf, parseConfigText, readConfigFile } from '../lib/cli/config-file.js'
import { loadGatewayConfig, readGatewayConfig } from '../lib/cli/gateway-config.js'

const examples = path.join(__dirname, '..', 'examples')

async function tempDir (t: { teardown (fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lolly-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('the Kubernetes example\'s configuration is valid: an SRV source, nothing static', async (t) => {
  const config = await loadGatewayConfig(path.join(examples, 'kubernetes', 'lolly.yaml'))
  const pool = config.normalized.upstreams.get('default')!
  t.same(pool.targets, [])
  t.match(pool.sources, [{ type: 'srv', service: '_http._tcp.api.demo.svc.cluster.local', family: 4 }])
  t.same(config.listen, { host: '0.0.0.0', port: 8080, tls: null, http2: false })
})

test('the sample YAML and JSON files read to the same configuration', async (t) => {
  const yaml = await loadGatewayConfig(path.join(examples, 'lolly.yaml'))
  const json = await loadGatewayConfig(path.join(examples, 'lolly.json'))
  t.same({ ...yaml, file: '' }, { ...json, file: '' })
  t.same(yaml.listen, { host: '127.0.0.1', port: 8080, tls: null, http2: false })
  t.equal(yaml.logLevel, 'info')
  t.equal(yaml.shutdownTimeout, 30000)
  t.same(yaml.routes, [
    { prefix: '/api', rewritePrefix: '', upstream: 'api' },
    { prefix: '', rewritePrefix: '', upstream: 'web' }
  ])
  t.same(Object.keys(yaml.plugin), ['status', 'upstreams'], 'only the plugin\'s keys are passed to register')
  t.same([...yaml.normalized.upstreams.keys()], ['api', 'web'])
  t.equal(yaml.normalized.upstreams.get('api')!.balancer.name, 'least-connections')
  t.equal(yaml.normalized.upstreams.get('api')!.healthCheck!.interval, 5000)
})

test('defaults: one upstream at the top level, every path proxied to it, 127.0.0.1:3000', (t) => {
  const config = readGatewayConfig({ targets: ['http://127.0.0.1:9001'] }, 'f.json')
  t.same(config.listen, { host: '127.0.0.1', port: 3000, tls: null, http2: false })
  t.equal(config.logLevel, 'info')
  t.equal(config.trustProxy, false)
  t.equal(config.shutdownTimeout, 30000)
  t.same(config.routes, [{ prefix: '', rewritePrefix: '', upstream: 'default' }])
  t.same(config.plugin, { targets: ['http://127.0.0.1:9001'] })
  t.end()
})

test('command-line --port and --host win over listen', (t) => {
  const config = readGatewayConfig({ listen: { host: '0.0.0.0', port: 80 }, targets: ['http://a:1'] }, 'f.json', { port: 0, host: '::1' })
  t.same(config.listen, { host: '::1', port: 0, tls: null, http2: false })
  t.end()
})

test('trustProxy takes true, a hop count, an address or a list', (t) => {
  for (const value of [true, 2, '10.0.0.0/8', ['10.0.0.1', '10.0.0.2']]) {
    t.same(readGatewayConfig({ trustProxy: value, targets: ['http://a:1'] }, 'f.json').trustProxy, value)
  }
  t.end()
})

test('routes: prefixes are normalised, the route policy is kept for the plugin', (t) => {
  const config = readGatewayConfig({
    upstreams: { a: { targets: ['http://a:1'] }, b: { targets: ['http://b:1'] } },
    routes: [
      { prefix: '/a/', rewritePrefix: '/v1/' },
      { prefix: '/b', upstream: 'b', balancer: 'consistent-hash', hashKey: 'header:x-user' }
    ]
  }, 'f.yaml')
  t.same(config.routes, [
    { prefix: '/a', rewritePrefix: '/v1', upstream: 'a' },
    { prefix: '/b', rewritePrefix: '/b', upstream: { name: 'b', balancer: 'consistent-hash', hashKey: 'header:x-user' } }
  ])
  t.end()
})

test('every error names the file and the path in it', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /^f\.yaml: the file must be an object \(a mapping of keys\) at the top, got null$/],
    [{ targets: ['http://a:1'], lisen: {} }, /^f\.yaml: lisen is not a known option \(known: listen, logger, routes, trustProxy, shutdownTimeout, targets, upstreams/],
    [{ upstreams: { api: { targets: ['http://a:1', { url: 'http://b:1', weight: 0 }] } } }, /^f\.yaml: upstreams\.api\.targets\[1\]\.weight must be an integer from 1 to 1000000, got 0$/],
    [{ upstreams: { api: { targets: ['http://a:1'], helthCheck: {} } } }, /^f\.yaml: upstreams\.api\.helthCheck is not a known option/],
    [{ targets: ['http://a:1'], listen: { port: 70000 } }, /^f\.yaml: listen\.port must be an integer from 0 to 65535, got 70000$/],
    [{ targets: ['http://a:1'], listen: { adress: 'x' } }, /^f\.yaml: listen\.adress is not a known option \(known: host, port, tls, http2, redirect\)$/],
    [{ targets: ['http://a:1'], listen: 8080 }, /^f\.yaml: listen must be an object \(\{ host, port, tls, http2, redirect \}\) or a non-empty array of them, got 8080$/],
    [{ targets: ['http://a:1'], logger: { level: 'loud' } }, /^f\.yaml: logger\.level must be one of 'fatal'/],
    [{ targets: ['http://a:1'], logger: { level: 'info', pretty: true } }, /^f\.yaml: logger\.pretty is not a known option/],
    [{ targets: ['http://a:1'], trustProxy: -1 }, /^f\.yaml: trustProxy must be true, a hop count/],
    [{ targets: ['http://a:1'], trustProxy: [] }, /^f\.yaml: trustProxy must be/],
    [{ targets: ['http://a:1'], trustProxy: [''] }, /^f\.yaml: trustProxy must be/],
    [{ targets: ['http://a:1'], shutdownTimeout: -5 }, /^f\.yaml: shutdownTimeout must be an integer >= 0, got -5$/],
    [{ targets: ['http://a:1'], routes: [] }, /^f\.yaml: routes must be a non-empty array/],
    [{ targets: ['http://a:1'], routes: ['/api'] }, /^f\.yaml: routes\[0\] must be an object, got '\/api'$/],
    [{ targets: ['http://a:1'], routes: [{ upstream: 'default' }] }, /^f\.yaml: routes\[0\]\.prefix must be a path such as '\/api', got undefined$/],
    [{ targets: ['http://a:1'], routes: [{ prefix: '/a', target: 'x' }] }, /^f\.yaml: routes\[0\]\.target is not a known option/],
    [{ targets: ['http://a:1'], routes: [{ prefix: '/:id' }] }, /^f\.yaml: routes\[0\]\.prefix must be a path starting with \/ made of literal segments/],
    [{ targets: ['http://a:1'], routes: [{ prefix: 'api' }] }, /^f\.yaml: routes\[0\]\.prefix must be a path/],
    [{ targets: ['http://a:1'], routes: [{ prefix: '/a', rewritePrefix: '/*' }] }, /^f\.yaml: routes\[0\]\.rewritePrefix must be a path/],
    [{ targets: ['http://a:1'], routes: [{ prefix: '/a' }, { prefix: '/a/' }] }, /^f\.yaml: routes\[1\]\.prefix must be unique \(routes\[0\] has it too\), got '\/a\/'$/],
    [{ targets: ['http://a:1'], routes: [{ prefix: '/a', upstream: 'api' }] }, /^f\.yaml: routes\[0\]\.upstream must be the name of an upstream \(default\), got 'api'$/],
    [{ targets: ['http://a:1'], routes: [{ prefix: '/a', balancer: 'fastest' }] }, /^f\.yaml: routes\[0\]\.balancer must be one of/]
  ]
  for (const [input, message] of cases) {
    t.throws(() => readGatewayConfig(input, 'f.yaml'), { code: 'FST_LOLLY_INVALID_OPTION', message }, message.source)
  }
})

test('files: JSON, YAML and YML by extension; other extensions, unreadable and unparsable files are errors', async (t) => {
  const dir = await tempDir(t)
  const yml = path.join(dir, 'g.yml')
  await writeFile(yml, 'targets:\n  - http://127.0.0.1:9001\n')
  t.same(await readConfigFile(yml), { targets: ['http://127.0.0.1:9001'] })

  t.equal(formatOf('A.JSON'), 'json')
  t.throws(() => formatOf('lolly.toml'), { code: 'FST_LOLLY_CONFIG_FILE', message: 'lolly.toml: must end with .json, .yaml or .yml (the extension says how to parse it)' })
  await t.rejects(readConfigFile(path.join(dir, 'missing.yaml')), { code: 'FST_LOLLY_CONFIG_FILE', message: /missing\.yaml: cannot be read: ENOENT/ })
  t.throws(() => parseConfigText('{"targets": [', 'json', 'x.json'), { code: 'FST_LOLLY_CONFIG_FILE', message: /^x\.json: is not valid JSON: / })
  t.throws(() => parseConfigText('a: 1\na: 2\n', 'yaml', 'x.yaml'), { code: 'FST_LOLLY_CONFIG_FILE', message: /^x\.yaml: is not valid YAML: Map keys must be unique at line 2, column 1/ })

  const bad = path.join(dir, 'bad.yaml')
  await writeFile(bad, 'upstreams:\n  api:\n    targets: [http://127.0.0.1:9001, { url: http://127.0.0.1:9002, weight: -1 }]\n')
  await t.rejects(loadGatewayConfig(bad), { message: `${bad}: upstreams.api.targets[1].weight must be an integer from 1 to 1000000, got -1` })
})

test('arguments', (t) => {
  t.same(readArgs(['--config', 'x.yaml']), { help: false, version: false, demo: false, check: false, config: 'x.yaml', port: undefined, host: undefined })
  t.same(readArgs(['-c', 'x.yaml', '-p', '8080', '--host', '::', '--check']), { help: false, version: false, demo: false, check: true, config: 'x.yaml', port: 8080, host: '::' })
  t.same(readArgs(['--demo', '--port=0']).port, 0)
  t.ok(readArgs(['-h']).help)
  t.ok(readArgs(['-v']).version)
  const usage = { code: 'FST_LOLLY_CLI_USAGE' }
  t.throws(() => readArgs(['--conf', 'x']), { ...usage, message: /Unknown option '--conf'/ })
  t.throws(() => readArgs(['x.yaml']), { ...usage, message: 'unexpected argument "x.yaml"' })
  t.throws(() => readArgs(['--port', '65536']), { ...usage, message: '--port must be a port number from 0 to 65535, got "65536"' })
  t.throws(() => readArgs(['--port', 'http']), { ...usage, message: /--port must be a port number/ })
  t.throws(() => readArgs(['--host', '']), { ...usage, message: '--host must not be empty' })
  t.throws(() => readArgs(['--demo', '-c', 'x.yaml']), { ...usage, message: /cannot be combined with --config/ })
  t.throws(() => readArgs(['--check']), { ...usage, message: '--check needs --config <file>' })
  t.end()
})

test('the demo\'s port: --port, else $PORT, else 3000', (t) => {
  t.equal(demoPort(8080, '9090'), 8080)
  t.equal(demoPort(undefined, '9090'), 9090)
  t.equal(demoPort(undefined, ''), 3000)
  t.equal(demoPort(undefined, undefined), 3000)
  t.throws(() => demoPort(undefined, '-1'), { code: 'FST_LOLLY_CLI_USAGE', message: 'PORT must be a port number from 0 to 65535, got "-1"' })
  t.end()
})
