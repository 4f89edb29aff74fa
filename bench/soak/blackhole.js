'use strict'

// A target that vanishes: every packet to and from its address and port is dropped by nftables, so a
// connect gets no answer, not even a RST, and open connections go silent. Only ever inside the soak's
// own network namespace: each nft command first checks that this process is in it.

const { spawn } = require('node:child_process')
const { findExecutable, insideNetns } = require('./netns.js')

const TABLE = 'inet lolly_soak'

class Blackhole {
  /** `netns`: the namespace this process must be in; `address`, `port`: the target to drop. */
  constructor (netns, address, port) {
    this.netns = netns
    this.address = address
    this.port = port
    this.nftPath = findExecutable('nft')
    this.dropped = false
  }

  async nft (script) {
    if (!insideNetns(this.netns)) throw new Error(`refusing to run nft: this process is not inside the network namespace ${this.netns}`)
    const child = spawn(this.nftPath, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk) => { stderr += chunk })
    child.stdin.end(script)
    const code = await new Promise((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', resolve)
    })
    if (code !== 0) throw new Error(`nft failed (${code}): ${stderr.trim()}\n${script}`)
  }

  setUp () {
    // Loopback traffic passes the output hook in both directions: one chain drops both.
    return this.nft(`add table ${TABLE}\nadd chain ${TABLE} out { type filter hook output priority 0 ; }\n`)
  }

  async drop () {
    await this.nft(`add rule ${TABLE} out ip daddr ${this.address} tcp dport ${this.port} drop\n` +
      `add rule ${TABLE} out ip saddr ${this.address} tcp sport ${this.port} drop\n`)
    this.dropped = true
  }

  async lift () {
    await this.nft(`flush chain ${TABLE} out\n`)
    this.dropped = false
  }

  async close () {
    await this.nft(`delete table ${TABLE}\n`)
    this.dropped = false
  }
}

/**
 * Blackholes the target now and then: the first time at `firstMs`, then every `everyMs`, for `forMs`
 * each. `changed(on)` hears each change. Returns a stop function (which lifts a blackhole in force)
 * and the count of blackholes.
 */
function scheduleBlackholes (blackhole, { firstMs, everyMs, forMs }, changed) {
  const state = { count: 0, stopped: false }
  let lifting
  let every
  const begin = async () => {
    if (state.stopped || blackhole.dropped) return
    await blackhole.drop()
    state.count++
    changed(true)
    lifting = setTimeout(end, forMs)
  }
  const end = async () => {
    await blackhole.lift()
    changed(false)
  }
  const first = setTimeout(() => {
    begin()
    every = setInterval(begin, everyMs)
  }, firstMs)
  state.stop = async () => {
    state.stopped = true
    clearTimeout(first)
    clearInterval(every)
    clearTimeout(lifting)
    if (blackhole.dropped) await end()
  }
  return state
}

module.exports = { Blackhole, scheduleBlackholes }
