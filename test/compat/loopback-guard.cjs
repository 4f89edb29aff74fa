'use strict'

// Preloaded (`node --require`) by test/compat/run.mjs into every test file's process, against
// fastify-lolly and in --baseline alike: a second line of defence behind the runner's exclusion list.
// A TCP/TLS connection (net, tls, http, https, http2, undici and fetch all come here) or a DNS
// lookup for anything but a loopback address, `localhost` or a unix socket fails at once, before any
// packet is sent, and says so on stderr. The reply-from test files only ever mean to reach their own
// servers on this machine.

const dns = require('node:dns')
const net = require('node:net')

function isLoopback (host) {
  if (host === undefined || host === null || host === '') return true // net's default: localhost
  const name = String(host).toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (name === '::1' || name === '::' || name === '0.0.0.0') return true
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name
  return net.isIPv4(v4) && v4.startsWith('127.')
}

function refusal (what) {
  const err = new Error(`[compat-guard] ${what} is not a loopback address: connection refused`)
  err.code = 'ECONNREFUSED'
  process.stderr.write(`${err.message}\n`)
  return err
}

const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function (...args) {
  // net.connect() passes its normalised arguments as one array ([options, callback]).
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]
  let host
  if (first !== null && typeof first === 'object') {
    if (first.path === undefined) host = first.host
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    host = typeof args[1] === 'string' ? args[1] : undefined
  } // else: a unix socket path
  if (!isLoopback(host)) {
    const err = refusal(host)
    process.nextTick(() => this.destroy(err))
    return this
  }
  return connect.apply(this, args)
}

const lookup = dns.lookup
dns.lookup = function (hostname, ...rest) {
  if (!isLoopback(hostname)) {
    const callback = rest[rest.length - 1]
    const err = refusal(hostname)
    err.code = 'ENOTFOUND'
    process.nextTick(() => callback(err))
    return {}
  }
  return lookup.call(this, hostname, ...rest)
}

const promisesLookup = dns.promises.lookup
dns.promises.lookup = async function (hostname, ...rest) {
  if (!isLoopback(hostname)) {
    const err = refusal(hostname)
    err.code = 'ENOTFOUND'
    throw err
  }
  return promisesLookup.call(this, hostname, ...rest)
}
