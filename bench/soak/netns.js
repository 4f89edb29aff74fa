'use strict'

// The soak's own network namespace. Run as root with `ip` and `nft` at hand, the soak re-executes
// itself inside a fresh namespace (`ip netns add lolly-soak-<pid>`), so that every process it starts
// (gateway, targets, load, dnsmasq) and every nftables rule lives there, and deletes the namespace at
// the end, also after an error or a signal. The machine's own namespace is never touched: no nft
// command runs anywhere but inside it (see blackhole.js, which checks insideNetns first).

const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

function findExecutable (name) {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']
  for (const dir of dirs) {
    if (dir === '') continue
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch {}
  }
  return undefined
}

/** Why the soak cannot have a namespace of its own here, or null when it can. */
function netnsUnavailable (args) {
  if (args.noNetns) return '--no-netns was given'
  if (process.platform !== 'linux') return 'network namespaces are Linux only'
  if (process.getuid() !== 0) return 'not root (a network namespace and nftables need it)'
  if (findExecutable('ip') === undefined) return '`ip` (iproute2) is not installed'
  if (findExecutable('nft') === undefined) return '`nft` (nftables) is not installed'
  return null
}

/** Whether this process runs inside the namespace /run/netns/<name>: the two namespace inodes match. */
function insideNetns (name) {
  if (typeof name !== 'string' || !/^lolly-soak-\d+$/.test(name)) return false
  try {
    return fs.statSync(`/run/netns/${name}`).ino === fs.statSync('/proc/self/ns/net').ino
  } catch {
    return false
  }
}

/** Runs `entry argv --in-netns <name>` inside a new namespace; resolves to its exit code. */
async function runInNetns (entry, argv) {
  const ip = findExecutable('ip')
  const name = `lolly-soak-${process.pid}`
  execFileSync(ip, ['netns', 'add', name])
  let cleaned = false
  const cleanup = () => {
    if (cleaned) return
    cleaned = true
    // Whatever of ours is still inside (the gateway's children, had it died without ending them) gets
    // 2 s to go by itself (the peer goes when the gateway does, and tidies up), then is killed.
    for (let i = 0; i < 40; i++) {
      const pids = execFileSync(ip, ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
      if (pids.length === 0) break
      if (i >= 20) {
        for (const pid of pids) {
          try { process.kill(pid, 'SIGKILL') } catch {}
        }
      }
      execFileSync('sleep', ['0.1'])
    }
    execFileSync(ip, ['netns', 'delete', name])
  }
  // A synchronous last resort, should anything below throw before the finally.
  process.on('exit', cleanup)
  try {
    execFileSync(ip, ['netns', 'exec', name, ip, 'link', 'set', 'lo', 'up'])
    const command = [ip, 'netns', 'exec', name, process.execPath, entry, ...argv, '--in-netns', name]
    // setpriv --pdeathsig: the soak gets SIGTERM if this process dies, even by SIGKILL (ip execs it, so
    // the signal setting survives). Detached: a terminal's ^C reaches this process only, which passes
    // it on.
    const setpriv = findExecutable('setpriv')
    const child = setpriv === undefined
      ? spawn(command[0], command.slice(1), { stdio: 'inherit', detached: true })
      : spawn(setpriv, ['--pdeathsig', 'SIGTERM', '--', ...command], { stdio: 'inherit', detached: true })
    // Under `npm run soak` a ^C comes twice at once (from the terminal and from npm): a second one
    // kills only when it comes later.
    let firstSignalAt = 0
    const forward = (signal) => {
      const again = firstSignalAt !== 0
      if (again && Date.now() - firstSignalAt < 1000) return
      firstSignalAt ||= Date.now()
      try { child.kill(again ? 'SIGKILL' : signal) } catch {}
    }
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward)
    return await new Promise((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code, signal) => resolve(code ?? 128 + (os.constants.signals[signal] ?? 0)))
    })
  } finally {
    cleanup()
  }
}

module.exports = { findExecutable, insideNetns, netnsUnavailable, runInNetns }
