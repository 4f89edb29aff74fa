'use strict'

// nginx as an outside reference, when it is on PATH (the bench never installs it). One process
// (master_process off, one worker's worth), an upstream block over the same three upstreams with
// keep-alive connections, its config and temp files in a fresh temp dir.

const { spawn, spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

function findOnPath (name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {}
  }
  return null
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

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

/** Resolves once something accepts connections on `port`, or rejects after `ms`. */
async function waitForPort (port, ms, exited) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (exited()) throw new Error('exited')
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listening on ${port} after ${ms} ms`)
}

/** CPU share of another process, from /proc (Linux); null where /proc is not there. */
function procCpuMeter (pid) {
  let ticksPerSecond = 100
  try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch {}
  const read = () => {
    try {
      // Fields after the command name (which may hold spaces, hence the last ')'): utime is 14th, stime 15th overall.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
    } catch {
      return null
    }
  }
  let startCpu
  let startAt
  return {
    start () {
      startCpu = read()
      startAt = process.hrtime.bigint()
    },
    stop () {
      const cpu = read()
      const wallMs = Number(process.hrtime.bigint() - startAt) / 1e6
      if (cpu === null || startCpu === null) return { share: null, cpuUs: null, wallMs }
      return { share: (cpu - startCpu) / (wallMs / 1e3), cpuUs: (cpu - startCpu) * 1e6, wallMs }
    }
  }
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
  let stderr = ''
  let exited = false
  // -e (nginx >= 1.19.5) keeps the startup error log out of /var/log, which the bench may not write.
  // nginx -v prints to stderr.
  const probe = spawnSync(binary, ['-v'], { encoding: 'utf8' })
  const version = `${probe.stdout ?? ''}${probe.stderr ?? ''}`
  const [major = 0, minor = 0, patch = 0] = (/nginx\/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number)
  const hasErrorLogFlag = major > 1 || (major === 1 && (minor > 19 || (minor === 19 && patch >= 5)))
  const args = ['-p', dir, '-c', conf, ...(hasErrorLogFlag ? ['-e', path.join(dir, 'error.log')] : [])]
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  child.on('exit', () => { exited = true })
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await gone
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForPort(port, 5_000, () => exited)
  } catch (err) {
    await stop()
    return { unavailable: `failed to start: ${(stderr || err.message).trim().split('\n')[0]}` }
  }
  const cpu = procCpuMeter(child.pid)
  const calls = { cpuStart: () => cpu.start(), cpuStop: () => cpu.stop() }
  return {
    port,
    notes: [`nginx ${major}.${minor}.${patch}, 1 process`],
    call: async (type) => calls[type](),
    stop
  }
}

module.exports = { startNginx }
