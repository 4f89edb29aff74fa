import fc from 'fast-check'

// fast-check generators for fastify-lolly's options: a full valid configuration to mutate, every
// option path in it, hostile values, and random valid configurations.

/** Where a path walks: object keys and array indexes, e.g. ['healthCheck', 'expect', 'status', 0]. */
export type OptionPath = Array<string | number>

/** How our error messages write a path: `healthCheck.expect.status[0]`, `targets[1].weight`. */
export function formatPath (path: OptionPath): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out === '' ? part : `.${part}`
    else out += `[${JSON.stringify(part)}]`
  }
  return out
}

/** A configuration that sets (almost) every option to a valid non-default value. */
export function fullOptions (): Record<string, unknown> {
  return {
    targets: [
      'http://127.0.0.1:1',
      { url: 'http://127.0.0.1:2/base', weight: 3, backup: false, down: false, maxConnections: 10 },
      { url: 'http://127.0.0.1:3', weight: 1, backup: true, down: true, maxConnections: 0 }
    ],
    balancer: 'consistent-hash',
    hashKey: 'header:x-user',
    hashBalanceFactor: 1.5,
    tlsRejectUnauthorized: true,
    connections: 8,
    pipelining: 1,
    connectTimeout: 1000,
    responseTimeout: 2000,
    bodyTimeout: 2000,
    clientBodyTimeout: 5000,
    passive: { maxFails: 3, failWindow: 5000, ejectTime: 1000, maxEjectTime: 8000, maxEjectedPercent: 50, statuses: [502, 503] },
    slowStart: 1000,
    panicPercent: 50,
    healthCheck: {
      path: '/healthz',
      method: 'GET',
      headers: { 'x-probe': 'yes' },
      port: 9,
      expect: { status: [200, '2xx', '300-399'], body: 'ok' },
      maxBodyBytes: 1024,
      interval: 10_000,
      timeout: 500,
      unhealthyInterval: 20_000,
      jitter: 0.1,
      concurrency: 4,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      initialState: 'healthy'
    },
    retry: {
      attempts: 2,
      on: ['connect-error', 'reset', 'timeout', 'status'],
      statuses: [502, 503],
      nonIdempotent: false,
      sameTarget: false,
      timeout: 0,
      budget: { percent: 20, minConcurrency: 3 },
      backoff: 0,
      maxRetryAfter: 1000
    },
    xForwarded: true
  }
}

/** Every path of a value that is an option (leaves and the objects and arrays holding them). */
export function optionPaths (value: unknown, prefix: OptionPath = []): OptionPath[] {
  const out: OptionPath[] = []
  if (Array.isArray(value)) {
    value.forEach((item, i) => { out.push([...prefix, i], ...optionPaths(item, [...prefix, i])) })
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) out.push([...prefix, key], ...optionPaths(item, [...prefix, key]))
  }
  return out
}

/** A deep copy of `options` with `path` set to `value`. */
export function withValue (options: Record<string, unknown>, path: OptionPath, value: unknown): Record<string, unknown> {
  const copy = structuredClone(options)
  let node = copy as Record<string | number, unknown>
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>
  node[path[path.length - 1]] = value
  return copy
}

/** Values a careless or hostile configuration could hold. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    NaN, Infinity, -Infinity, -0, -1, 0, 0.5, 1.5, 1e21, 2 ** 31, 2 ** 53, Number.MAX_VALUE, Number.MIN_VALUE,
    '', ' ', 'x', '0', '1', 'true', '/', 'http://', 'ftp://h', 'http://u:p@h', 'http://h/#f', 'http://h/?q', '\r\n', '\0',
    '__proto__', 'constructor', 'toString', 'header:', 'cookie:', 'header:a b', '2xx', '600', '100-099',
    true, false, null, [], [null], [[]], {}, { __proto__: null }, JSON.parse('{"__proto__":{"polluted":1}}'),
    Symbol('s'), 10n, /re/gy, new Date(NaN), new Map(), new Set([1]), new Uint8Array(2), Object.create(Array.prototype),
    () => 'key', class {}, new Proxy({}, {}), Object('boxed'), Object(3)
  ),
  fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withNullPrototype: true,
    withSparseArray: true,
    withBoxedValues: true,
    maxDepth: 2
  })
)

// Privileged ports: nothing of anyone's tests listens there (they all take port 0, an ephemeral port),
// so a probe a generated configuration sends can only be refused.
const port = fc.integer({ min: 1, max: 1023 })
const targetUrl = fc.tuple(port, fc.constantFrom('', '/api', '/a/b/')).map(([p, base]) => `http://127.0.0.1:${p}${base}`)
const target = fc.oneof(
  targetUrl,
  fc.record({
    url: targetUrl,
    weight: fc.integer({ min: 1, max: 1000 }),
    backup: fc.boolean(),
    down: fc.boolean(),
    maxConnections: fc.integer({ min: 0, max: 1000 })
  }, { requiredKeys: ['url'] })
)
const targets = fc.uniqueArray(target, {
  minLength: 1,
  maxLength: 5,
  selector: (t) => new URL(typeof t === 'string' ? t : t.url).href.replace(/\/+$/, '')
})

const balancerAndKey = fc.oneof(
  fc.record({ balancer: fc.constantFrom('round-robin', 'random', 'least-connections', 'p2c', 'least-latency', 'first') }),
  fc.record({
    balancer: fc.constant('consistent-hash'),
    hashKey: fc.constantFrom('ip', 'url', 'header:x-user', 'cookie:sid'),
    hashBalanceFactor: fc.oneof(fc.constant(0), fc.double({ min: 1, max: 100, noNaN: true }))
  }, { requiredKeys: ['balancer'] }),
  fc.record({ balancer: fc.constant('ip-hash') })
)

const passive = fc.oneof(
  fc.boolean(),
  fc.record({
    maxFails: fc.integer({ min: 1, max: 1000 }),
    failWindow: fc.integer({ min: 1, max: 600_000 }),
    ejectTime: fc.integer({ min: 1, max: 60_000 }),
    maxEjectedPercent: fc.integer({ min: 1, max: 100 }),
    statuses: fc.array(fc.integer({ min: 500, max: 599 }), { maxLength: 4 })
  }, { requiredKeys: [] })
)

const healthCheck = fc.oneof(
  fc.boolean(),
  fc.record({
    path: fc.constantFrom('/health', '/', '/status?full=1'),
    method: fc.constantFrom('GET', 'HEAD'),
    headers: fc.constantFrom({}, { 'x-probe': '1' }, { host: 'probe.internal' }),
    interval: fc.integer({ min: 1000, max: 60_000 }),
    timeout: fc.integer({ min: 1, max: 999 }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    concurrency: fc.integer({ min: 1, max: 1024 }),
    healthyThreshold: fc.integer({ min: 1, max: 10 }),
    unhealthyThreshold: fc.integer({ min: 1, max: 10 }),
    initialState: fc.constantFrom('healthy', 'unhealthy'),
    expect: fc.record({ status: fc.constantFrom([200], ['2xx'], ['200-399', 418]) }, { requiredKeys: [] })
  }, { requiredKeys: [] })
)

const retry = fc.oneof(
  fc.boolean(),
  fc.record({
    attempts: fc.integer({ min: 0, max: 5 }),
    nonIdempotent: fc.boolean(),
    sameTarget: fc.boolean(),
    timeout: fc.integer({ min: 0, max: 10_000 }),
    budget: fc.oneof(fc.constant(false), fc.record({ percent: fc.integer({ min: 0, max: 100 }), minConcurrency: fc.integer({ min: 0, max: 10 }) })),
    backoff: fc.integer({ min: 0, max: 100 }),
    maxRetryAfter: fc.integer({ min: 0, max: 60_000 })
  }, { requiredKeys: [] })
)

const settings = fc.tuple(balancerAndKey, fc.record({
  tlsRejectUnauthorized: fc.boolean(),
  connections: fc.integer({ min: 1, max: 256 }),
  pipelining: fc.integer({ min: 1, max: 8 }),
  connectTimeout: fc.integer({ min: 1, max: 60_000 }),
  responseTimeout: fc.integer({ min: 1, max: 60_000 }),
  bodyTimeout: fc.integer({ min: 1, max: 60_000 }),
  clientBodyTimeout: fc.integer({ min: 0, max: 60_000 }),
  passive,
  slowStart: fc.integer({ min: 0, max: 60_000 }),
  panicPercent: fc.double({ min: 0, max: 100, noNaN: true }),
  healthCheck,
  retry
}, { requiredKeys: [] })).map(([balancer, rest]) => ({ ...balancer, ...rest }))

/** Random valid options: one pool (`targets`) or several named ones over top-level defaults. */
export const validOptions: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.tuple(settings, targets, fc.option(fc.boolean(), { nil: undefined })).map(([s, t, xForwarded]) =>
    ({ ...s, targets: t, ...(xForwarded === undefined ? {} : { xForwarded }) })),
  fc.tuple(settings, fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/), fc.tuple(settings, targets), { minKeys: 1, maxKeys: 3 }))
    .map(([defaults, named]) => {
      // fromEntries defines own keys, so a generated name like '__proto__' stays a name.
      const upstreams = Object.fromEntries(Object.entries(named).map(([name, [s, t]]) => [name, { ...s, targets: t }]))
      return { ...defaults, upstreams, defaultUpstream: Object.keys(upstreams).at(-1) }
    })
)
