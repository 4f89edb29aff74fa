'use strict'

// nginx as an outside reference, when it is on PATH (the bench never installs it). One process
// (master_process off, one worker's worth), an upstream block over the same three upstreams with
// keep-alive connections, its config and temp files in a fresh temp dir.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { findOnPath, freePort, runOutsideProcess } = require('./outside-process.js')

function nginxConfig (dir, port, upstreamPorts) {
  return `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream bench {
${upstreamPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`
}

/**
 * Starts nginx in front of `upstreamPorts`. Resolves `{ unavailable }` when nginx is not on PATH
 * or would not start, else `{ port, call, stop }` shaped like a proxy child (cpuStart/cpuStop).
 */
async function startNginx (upstreamPorts) {
  const binary = findOnPath('nginx')
  if (binary === null) return { unavailable: 'not installed (nginx not on PATH)' }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lolly-bench-nginx-'))
  const port = await freePort()
  const conf = path.join(dir, 'nginx.conf')
  fs.writeFileSync(conf, nginxConfig(dir, port, upstreamPorts))
  // -e (nginx >= 1.19.5) keeps the startup error log out of /var/log, which the bench may not write.
  // nginx -v prints to stderr.
  const probe = spawnSync(binary, ['-v'], { encoding: 'utf8' })
  const version = `${probe.stdout ?? ''}${probe.stderr ?? ''}`
  const [major = 0, minor = 0, patch = 0] = (/nginx\/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number)
  const hasErrorLogFlag = major > 1 || (major === 1 && (minor > 19 || (minor === 19 && patch >= 5)))
  const args = ['-p', dir, '-c', conf, ...(hasErrorLogFlag ? ['-e', path.join(dir, 'error.log')] : [])]
  return runOutsideProcess({
    binary,
    args,
    env: process.env,
    dir,
    port,
    startMs: 5_000,
    notes: [`nginx ${major}.${minor}.${patch}, 1 process`],
    pickLine: (lines) => lines[0]
  })
}

module.exports = { startNginx }
