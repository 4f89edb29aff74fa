'use strict'

// Caddy as an outside reference, when it is on PATH (the bench never installs it; Debian's package is
// `caddy`). `reverse_proxy` over the same three upstreams, round robin, with active health checks every
// second as fastify-lolly's contender has, keep-alive connections, and GOMAXPROCS=1: one core, as one
// Node process uses. Its config and data in a fresh temp dir; no admin endpoint, no automatic HTTPS.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { findOnPath, freePort, runOutsideProcess } = require('./outside-process.js')

function caddyfile (port, upstreamPorts) {
  return `{
  admin off
  auto_https off
}
http://127.0.0.1:${port} {
  bind 127.0.0.1
  reverse_proxy ${upstreamPorts.map((p) => `127.0.0.1:${p}`).join(' ')} {
    lb_policy round_robin
    health_uri /health
    health_interval 1s
    transport http {
      keepalive 60s
      keepalive_idle_conns 128
    }
  }
}
`
}

/**
 * Starts Caddy in front of `upstreamPorts`. Resolves `{ unavailable }` when caddy is not on PATH or
 * would not start, else `{ port, call, stop }` shaped like a proxy child (cpuStart/cpuStop).
 */
async function startCaddy (upstreamPorts) {
  const binary = findOnPath('caddy')
  if (binary === null) return { unavailable: 'not installed (caddy not on PATH)' }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lolly-bench-caddy-'))
  const port = await freePort()
  const config = path.join(dir, 'Caddyfile')
  fs.writeFileSync(config, caddyfile(port, upstreamPorts))
  const version = (spawnSync(binary, ['version'], { encoding: 'utf8' }).stdout ?? '').trim().split(' ')[0]
  // Caddy keeps its data (certificates, autosaves) under XDG dirs: the temp dir, never the user's.
  const env = { ...process.env, GOMAXPROCS: '1', XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, HOME: dir }
  return runOutsideProcess({
    binary,
    args: ['run', '--config', config, '--adapter', 'caddyfile'],
    env,
    dir,
    port,
    startMs: 10_000,
    notes: [`Caddy ${version}, GOMAXPROCS=1, round robin, health checks every 1 s`],
    // The last line Caddy logged says why it stopped.
    pickLine: (lines) => lines[lines.length - 1]
  })
}

module.exports = { startCaddy }
