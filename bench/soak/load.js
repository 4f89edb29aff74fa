'use strict'

// The HTTP load: paced workers (plain ones with a mix of requests, sticky ones that keep the affinity
// cookie), slow readers, slow uploaders, and what an operator runs beside: a metrics scrape and a
// status page's event stream. Each loop ends at `stop` (an AbortSignal); requests in flight then
// finish, but slow transfers are cut (the gateway must let go of them).

const http = require('node:http')
const { setTimeout: sleep } = require('node:timers/promises')
const { Pool } = require('undici')
const { Tally } = require('./tally.js')

const COOKIE = 'lolly'
const nap = (ms, stop) => sleep(Math.max(0, ms), undefined, { signal: stop }).catch(() => {})

/** Runs `one()` every `intervalMs` until `stop`, never faster; a late one does not make a burst. */
async function paced (intervalMs, stop, one) {
  let next = performance.now() + Math.random() * intervalMs
  while (!stop.aborted) {
    await nap(next - performance.now(), stop)
    if (stop.aborted) return
    next = Math.max(next + intervalMs, performance.now())
    await one()
  }
}

async function plainRequest (client, tally, i) {
  const roll = Math.random()
  const controller = new AbortController()
  let kind = 'get'
  let opts = { path: `/api/items?i=${i}`, method: 'GET', signal: controller.signal }
  if (roll < 0.15) {
    kind = 'post'
    opts = { ...opts, path: '/api/items', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i, pad: 'p'.repeat(480) }) }
  } else if (roll < 0.25) {
    kind = 'big'
    opts = { ...opts, path: `/big/${i}` }
  } else if (roll < 0.35) {
    kind = 'app-500'
    opts = { ...opts, path: `/err/${i}` }
  } else if (roll < 0.40) {
    kind = 'abort'
    setTimeout(() => controller.abort(), Math.floor(Math.random() * 20))
  }
  tally.started(kind)
  const startedAt = performance.now()
  try {
    const res = await client.request(opts)
    const text = await res.body.text()
    if (res.statusCode < 400) tally.ok(kind, startedAt)
    else if (res.statusCode === 500 && text === 'application error') tally.expected(kind, 'application 500')
    else tally.error(kind, Tally.statusKey(res.statusCode, text))
  } catch (err) {
    if (kind === 'abort' && (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED')) tally.expected(kind, 'aborted by the client')
    else tally.error(kind, Tally.clientKey(err))
  }
}

/** A client with a session: it sends the affinity cookie it was given, and starts a new session now and then. */
function stickyClient (client, tally, w, sessionRequests) {
  let cookie
  let made = 0
  return async () => {
    if (made++ % sessionRequests === 0) cookie = undefined
    tally.started('sticky')
    const startedAt = performance.now()
    try {
      const res = await client.request({ path: `/session/${w}/${made}`, method: 'GET', headers: cookie === undefined ? {} : { cookie } })
      const text = await res.body.text()
      const set = [res.headers['set-cookie'] ?? []].flat().find((line) => line.startsWith(`${COOKIE}=`))
      if (set !== undefined) {
        if (cookie !== undefined) tally.expected('sticky', 'cookie issued again')
        cookie = set.split(';')[0]
      }
      if (res.statusCode < 400) tally.ok('sticky', startedAt)
      else tally.error('sticky', Tally.statusKey(res.statusCode, text))
    } catch (err) {
      tally.error('sticky', Tally.clientKey(err))
    }
  }
}

/** One node:http exchange on a connection of its own; `work(req)` sends, `read(res)` takes the answer. */
function exchange (port, options, stop, work, read, stallMs) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, agent: false, ...options })
    let settled = false
    const done = (outcome) => {
      if (settled) return
      settled = true
      clearTimeout(stall)
      stop.removeEventListener('abort', cut)
      req.destroy()
      resolve(outcome)
    }
    const cut = () => done({ cut: true })
    let stall
    const progress = () => {
      clearTimeout(stall)
      stall = setTimeout(() => done({ error: 'client stalled' }), stallMs)
    }
    stop.addEventListener('abort', cut)
    progress()
    req.on('error', (err) => done({ error: Tally.clientKey(err) }))
    req.on('response', (res) => read(res, progress, done))
    work(req, progress, () => settled)
  })
}

/** Reads `bytes` of a large answer at `bytesPerSecond`, pausing the socket between reads. */
function slowRead (port, bytes, bytesPerSecond, stop) {
  return exchange(port, { path: `/huge/${bytes}` }, stop, (req) => req.end(), (res, progress, done) => {
    if (res.statusCode !== 200) {
      res.resume()
      return done({ error: `${res.statusCode}` })
    }
    const startedAt = Date.now()
    let got = 0
    res.on('data', (chunk) => {
      got += chunk.length
      progress()
      const wait = startedAt + got / bytesPerSecond * 1000 - Date.now()
      if (wait > 0) {
        res.pause()
        setTimeout(() => res.resume(), wait)
      }
    })
    res.on('end', () => done(got === bytes ? { ok: true } : { error: `short body (${got} of ${bytes})` }))
    res.on('error', (err) => done({ error: Tally.clientKey(err) }))
  }, 30_000)
}

/** Sends a body of `bytes` at `bytesPerSecond`, in 4 KiB writes. */
function slowUpload (port, bytes, bytesPerSecond, stop) {
  const piece = Buffer.alloc(4096, 'u')
  const headers = { 'content-type': 'application/octet-stream', 'content-length': bytes }
  return exchange(port, { path: '/upload', method: 'POST', headers }, stop, async (req, progress, settled) => {
    for (let sent = 0; sent < bytes && !settled();) {
      const size = Math.min(piece.length, bytes - sent)
      req.write(piece.subarray(0, size))
      sent += size
      progress()
      await sleep(size / bytesPerSecond * 1000)
    }
    if (!settled()) req.end()
  }, (res, progress, done) => {
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (chunk) => { text += chunk })
    res.on('end', () => done(res.statusCode === 200 && text === `received ${bytes}` ? { ok: true } : { error: res.statusCode === 200 ? 'wrong answer' : Tally.statusKey(res.statusCode, text) }))
  }, 30_000)
}

async function slowLoop (kind, tally, stop, transfer) {
  while (!stop.aborted) {
    tally.started(kind)
    const startedAt = performance.now()
    const outcome = await transfer()
    if (outcome.ok) tally.ok(kind, startedAt)
    else if (outcome.cut) tally.expected(kind, 'cut when the load stopped')
    else tally.error(kind, outcome.error)
    await nap(1000, stop)
  }
}

/** The metrics scrape every 15 s, and one status-page event stream, read for the whole run. */
async function operatorTraffic (client, port, tally, stop) {
  const events = { streams: 0, bytes: 0, errors: {} }
  const stream = async () => {
    while (!stop.aborted) {
      events.streams++
      // A summary comes each second: ten without one is a stream that stalled.
      const outcome = await exchange(port, { path: '/lolly/events' }, stop, (req) => req.end(), (res, progress, done) => {
        if (res.statusCode !== 200) done({ error: `${res.statusCode}` })
        res.on('data', (chunk) => {
          events.bytes += chunk.length
          progress()
        })
        res.on('end', () => done({ error: 'ended' }))
      }, 10_000)
      if (outcome.error !== undefined) {
        events.errors[outcome.error] = (events.errors[outcome.error] ?? 0) + 1
        await nap(1000, stop)
      }
    }
  }
  const scrape = paced(15_000, stop, async () => {
    tally.started('metrics')
    const startedAt = performance.now()
    try {
      const res = await client.request({ path: '/metrics', method: 'GET' })
      const text = await res.body.text()
      if (res.statusCode === 200 && text.includes('lolly_target_up')) tally.ok('metrics', startedAt)
      else tally.error('metrics', Tally.statusKey(res.statusCode, text))
    } catch (err) {
      tally.error('metrics', Tally.clientKey(err))
    }
  })
  await Promise.all([stream(), scrape])
  return events
}

/** The whole HTTP load against the gateway on `port`, until `stop`; resolves once every loop ended. */
async function runLoad (args, port, tally, stop) {
  const client = new Pool(`http://127.0.0.1:${port}`, { connections: args.connections + 1, keepAliveTimeout: 10_000, headersTimeout: 20_000, bodyTimeout: 20_000 })
  const interval = args.connections / args.rate * 1000
  const sticky = Math.round(args.connections * args.stickyShare)
  let i = 0
  const loops = Array.from({ length: args.connections }, (_, w) =>
    paced(interval, stop, w < sticky ? stickyClient(client, tally, w, args.sessionRequests) : () => plainRequest(client, tally, i++)))
  for (let r = 0; r < args.slowReaders; r++) {
    loops.push(slowLoop('slow-read', tally, stop, () => slowRead(port, args.slowReadKib * 1024, args.slowReadKibps * 1024, stop)))
  }
  for (let u = 0; u < args.slowUploaders; u++) {
    loops.push(slowLoop('slow-upload', tally, stop, () => slowUpload(port, args.slowUploadKib * 1024, args.slowUploadKibps * 1024, stop)))
  }
  const operator = operatorTraffic(client, port, tally, stop)
  await Promise.all(loops)
  const events = await operator
  await client.close()
  return { statusEvents: events }
}

module.exports = { runLoad }
