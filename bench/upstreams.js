'use strict'

// The upstream processes the proxy benches put behind every contender: plain node:http servers
// (bench/upstream.js), one port each, each in its own process.

const path = require('node:path')
const { startChild } = require('./ipc.js')

const UPSTREAM = path.join(__dirname, 'upstream.js')

/**
 * Starts `count` upstream children at once. `children` are there at once (stop them whatever
 * happens); `listening` resolves with their ports and URLs once every one listens.
 */
function startUpstreams (count) {
  const children = Array.from({ length: count }, () => startChild(UPSTREAM, ['1']))
  const listening = Promise.all(children.map((child) => child.ready)).then((infos) => {
    const ports = infos.map((info) => info.ports[0])
    return { ports, targets: ports.map((port) => `http://127.0.0.1:${port}`) }
  })
  return { children, listening }
}

module.exports = { startUpstreams }
