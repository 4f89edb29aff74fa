'use strict'

/*
 * reply-from compatibility adapter.
 *
 * @fastify/reply-from's own test files (node_modules/@fastify/reply-from/test/*.test.js) do
 * `const From = require('..')` and register `From` with reply-from's plugin options. When they run
 * under test/compat/run.mjs, test/compat/resolve-adapter.cjs makes that `require('..')` return this
 * plugin, which translates reply-from's options into fastify-lolly's and registers the BUILT
 * fastify-lolly (dist/, made by `npm run build`). The tests then exercise fastify-lolly's
 * `reply.from(source, opts)` unchanged.
 *
 * What is translated, and what is not:
 * - `base` (a string or an array) becomes `targets`.
 * - No `base`: reply-from then sends each call to the origin of its absolute source
 *   (`reply.from('http://localhost:PORT/x')`). fastify-lolly sends only to its pool's targets (README
 *   row "no base"), so a real app lists its upstreams as targets. The tests start their upstreams on
 *   ports chosen at run time, after registering, so the adapter does that listing for them: the pool
 *   starts with one placeholder target that is configured out (`down: true`, never dialled), and a call
 *   with an absolute source whose origin is not a target points the pool at that origin (addTarget,
 *   then removeTarget of the others) before fastify-lolly's own reply.from() runs, unchanged. Calls
 *   with a relative source or a getUpstream and no base stay as they are, and fail as the README's
 *   "no base" and "getUpstream" rows say.
 * - `contentTypesToEncode`, `disableRequestLogging`, `cacheURLs`, `disableCache` go through as they
 *   are: fastify-lolly takes (and validates) them under the same names.
 * - `undici` options with an equivalent pool setting are translated (see UNDICI_TO_LOLLY below and
 *   `connect`); `undici: true` (reply-from's default) is dropped. Any other undici key stays under
 *   `undici`. `undici: false`, an undici instance (or any object with a `request` method), `http`,
 *   `http2`, `globalAgent`, `destroyAgent`, `balancedPoolOptions`, `retryMethods`, `maxRetriesOn503`
 *   and any other key go through unchanged, so that fastify-lolly refuses them at register: its
 *   refusal message is part of what the suite shows.
 * - Fixed: `healthCheck: false` and `xForwarded: false` (see toLollyOptions). Nothing else is set:
 *   fastify-lolly's other defaults (TLS verification, failover, 30 s timeouts, no request logging)
 *   stay, and where a test sees them, that is a difference the README lists.
 * - The adapter writes one stderr line, starting with "[compat-adapter]", for a refused register and
 *   for each FST_LOLLY_* error a route answers with: the reporter shows it, since most tests only see
 *   the symptom (a server that never listened, a 500).
 *
 * Test files that are never run (the list, with each reason, is EXCLUDED in test/compat/run.mjs):
 * - safety, traffic must never leave loopback: connect-timeout.test.js (dials 10.255.255.1, a
 *   private-range address), base-path.test.js and host-header.test.js (reach httpbin.org, which nock
 *   intercepts for node:http only, not for undici), http-invalid-target.test.js and
 *   http2-invalid-target.test.js (resolve and dial abc.xyz1, a public-looking name);
 * - not applicable, they test reply-from's internals (`require('../lib/...')` or proxyquire):
 *   build-url.test.js, undici-agent.test.js, undici-options.test.js, unexpected-error.test.js,
 *   utils-filter-pseudo-headers.test.js.
 */

const fp = require('fastify-plugin')
const lolly = require('../../dist/index.js')

/** reply-from's undici options that have a pool setting of the same meaning in fastify-lolly. */
const UNDICI_TO_LOLLY = {
  connections: 'connections',
  pipelining: 'pipelining',
  // undici's headersTimeout is the wait for the response headers: fastify-lolly's responseTimeout.
  headersTimeout: 'responseTimeout',
  bodyTimeout: 'bodyTimeout',
  connectTimeout: 'connectTimeout'
}

/** The pool's only target until a call names an origin, when reply-from is given no base: configured out. */
const PLACEHOLDER = { url: 'http://127.0.0.1:9', down: true }

/** Plugin options fastify-lolly takes as they are (it validates them). */
const AS_IS = ['contentTypesToEncode', 'disableRequestLogging', 'cacheURLs', 'disableCache']

/**
 * reply-from's plugin options -> fastify-lolly's. Pure, so the runner could test it alone; exported
 * as `toLollyOptions` on the plugin.
 */
function toLollyOptions (replyFromOptions) {
  const { base, undici, ...rest } = replyFromOptions ?? {}
  const options = {
    // reply-from sends no probes of its own, and the test targets count the requests they get
    // (t.plan, call counters): active health checks would add requests they do not expect.
    healthCheck: false,
    // reply-from adds no X-Forwarded-* headers; tests compare the headers the target received.
    xForwarded: false
  }
  // Without a base, a placeholder the pool never dials (see the header and pointAt).
  options.targets = base === undefined ? [PLACEHOLDER] : Array.isArray(base) ? [...base] : [base]

  for (const key of AS_IS) {
    if (key in rest) {
      options[key] = rest[key]
      delete rest[key]
    }
  }

  // `undici: true` is reply-from's default (undici with its default options), which is what
  // fastify-lolly always does. `undici: false` (node:http) goes through below, to be refused.
  if (undici !== undefined && undici !== true) Object.assign(options, translateUndici(undici))

  // Everything else (http, http2, globalAgent, destroyAgent, balancedPoolOptions, retryMethods,
  // maxRetriesOn503, ...) unchanged: fastify-lolly refuses what it does not know.
  return Object.assign(options, rest)
}

/** Translates the keys of reply-from's `undici` option that have an equivalent; the rest stay under `undici`. */
function translateUndici (undici) {
  // An undici instance (Pool, Agent, a custom dispatcher) or anything with `request`: passed whole.
  // `false` and any other non-object value: passed as it is, to be refused.
  if (undici === null || typeof undici !== 'object' || typeof undici.request === 'function' ||
      (Object.getPrototypeOf(undici) !== Object.prototype && Object.getPrototypeOf(undici) !== null)) {
    return { undici }
  }
  const translated = {}
  const leftover = {}
  for (const [key, value] of Object.entries(undici)) {
    if (key in UNDICI_TO_LOLLY) {
      translated[UNDICI_TO_LOLLY[key]] = value
    } else if (key === 'connect' && value !== null && typeof value === 'object') {
      const connectLeft = {}
      for (const [connectKey, connectValue] of Object.entries(value)) {
        // false is the case that matters (self-signed test certificates); true is fastify-lolly's default.
        if (connectKey === 'rejectUnauthorized' && typeof connectValue === 'boolean') {
          translated.tlsRejectUnauthorized = connectValue
        } else if (connectKey === 'timeout') {
          translated.connectTimeout = connectValue
        } else {
          connectLeft[connectKey] = connectValue
        }
      }
      if (Object.keys(connectLeft).length > 0) leftover.connect = connectLeft
    } else {
      leftover[key] = value
    }
  }
  if (Object.keys(leftover).length > 0) translated.undici = leftover
  return translated
}

/**
 * Notes for the runner, on stderr (the reporter picks up the lines that start with NOTE): many tests
 * only see the symptom (a server that never listened, a 500), not fastify-lolly's reason.
 */
const NOTE = '[compat-adapter]'

function note (what, err) {
  const message = String(err?.message ?? err).split('\n')[0]
  process.stderr.write(`${NOTE} ${what}: ${err?.code ? `${err.code}: ` : ''}${message}\n`)
}

async function replyFromAdapter (fastify, replyFromOptions) {
  // fastify-lolly is itself wrapped with fastify-plugin, and so is this adapter: `reply.from`,
  // `app.lolly` and the hooks reach the instance the test registered `From` on.
  try {
    await fastify.register(lolly, toLollyOptions(replyFromOptions))
  } catch (err) {
    note('register refused', err)
    throw err
  }
  if (replyFromOptions?.base === undefined) {
    // Every reply gets a reply.from that first lists the origin of an absolute source as the pool's
    // target (the test's upstream, on a port chosen at run time): see the header.
    fastify.addHook('onRequest', (_request, reply, done) => {
      const from = reply.from
      reply.from = function fromListed (source, opts) {
        if (typeof source === 'string' && /^[a-z][a-z\d+.-]*:/i.test(source)) pointAt(fastify, source)
        return from.call(this, source, opts)
      }
      done()
    })
  }
  // Observes only: an FST_LOLLY_* error a route answered with (the test sees a status code).
  fastify.addHook('onError', async (_request, _reply, err) => {
    if (typeof err?.code === 'string' && err.code.startsWith('FST_LOLLY_')) note('answered with', err)
  })
}

/** Makes the origin of `source` the pool's one target, as a reply-from without base would send there. */
function pointAt (fastify, source) {
  let origin
  try {
    origin = new URL(source).origin
  } catch {
    return // fastify-lolly refuses it (400), as reply-from does.
  }
  if (origin === 'null') return // not http(s): left to fastify-lolly to refuse.
  const targets = fastify.lolly.targets
  if (targets.some((target) => target.url === origin)) return
  fastify.lolly.addTarget('default', origin)
  // Draining the others lets a request still in flight there finish.
  for (const target of targets) fastify.lolly.removeTarget('default', target.url).catch(() => {})
}

module.exports = fp(replyFromAdapter, { fastify: '5.x' })
module.exports.toLollyOptions = toLollyOptions
