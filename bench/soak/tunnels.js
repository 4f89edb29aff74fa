'use strict'

// WebSocket clients through the gateway's tunnels: each opens a tunnel, sends a message every
// --ws-message-ms and expects its echo, closes after a random life around --ws-lifetime-ms, and opens
// the next. A tunnel whose echo is late (its target blackholed, say) is stalled: the client drops it
// and opens another, as a live app's ping timeout would.

const { setTimeout: sleep } = require('node:timers/promises')
const { WebSocket } = require('ws')

function newCounts () {
  return { opened: 0, closedByClient: 0, closedByOther: 0, stalled: 0, failed: {}, messages: 0, echoed: 0, byTarget: {}, open: 0 }
}

/** One tunnel, from the handshake to its close; resolves when it is closed. */
function oneTunnel (url, i, args, counts, stop) {
  return new Promise((resolve) => {
    const stallMs = Math.max(3000, 3 * args.wsMessageMs)
    const ws = new WebSocket(url, { perMessageDeflate: i % 2 === 0, handshakeTimeout: 20_000 })
    let opened = false
    let closing = false
    let stalled = false
    let greeted = false
    let pending = null
    let sent = 0
    let ticker
    let lifetime
    let hardClose
    const close = () => {
      if (closing) return
      closing = true
      ws.close(1000)
      hardClose = setTimeout(() => ws.terminate(), 5000)
    }
    const onStop = () => close()
    stop.addEventListener('abort', onStop)
    ws.on('open', () => {
      opened = true
      counts.opened++
      counts.open++
      lifetime = setTimeout(close, args.wsLifetimeMs * (0.5 + Math.random()))
      ticker = setInterval(() => {
        if (closing) return
        if (pending !== null) {
          if (performance.now() - pending.at < stallMs) return
          stalled = true
          counts.stalled++
          return ws.terminate()
        }
        pending = { text: `m${i}.${++sent}`, at: performance.now() }
        counts.messages++
        ws.send(pending.text)
      }, args.wsMessageMs)
    })
    ws.on('message', (data) => {
      const text = String(data)
      if (!greeted) {
        greeted = true
        const { target } = JSON.parse(text)
        counts.byTarget[target] = (counts.byTarget[target] ?? 0) + 1
      } else if (pending !== null && text === pending.text) {
        counts.echoed++
        pending = null
      }
    })
    ws.on('error', (err) => {
      // After the open, the close tells; before it, a close of our own (the load stopped) is no failure.
      if (opened || closing) return
      const status = /Unexpected server response: (\d+)/.exec(err.message)
      const key = status === null ? (err.code ?? err.message) : `status ${status[1]}`
      counts.failed[key] = (counts.failed[key] ?? 0) + 1
    })
    ws.on('close', () => {
      clearInterval(ticker)
      clearTimeout(lifetime)
      clearTimeout(hardClose)
      stop.removeEventListener('abort', onStop)
      if (opened) {
        counts.open--
        if (closing) counts.closedByClient++
        else if (!stalled) counts.closedByOther++
      }
      resolve()
    })
  })
}

/** `args.tunnels` clients against the gateway on `port` until `stop`; resolves once all are closed. */
async function runTunnels (args, port, counts, stop) {
  await Promise.all(Array.from({ length: args.tunnels }, async (_, i) => {
    await sleep(Math.random() * 1000)
    while (!stop.aborted) {
      await oneTunnel(`ws://127.0.0.1:${port}/ws/${i}`, i, args, counts, stop)
      if (!stop.aborted) await sleep(500)
    }
  }))
}

module.exports = { newCounts, runTunnels }
