'use strict'

// The soak's command line. Every flag has a default fit for a 30-minute run (`--seconds 1800`) on two
// shared cores: the load is paced (--rate), not as fast as it can go, so the run leaves room for other
// work and the event-loop figures measure the gateway, not a saturated machine.

const FLAGS = {
  seconds: { flag: '--seconds', value: 300, help: 'how long the load runs' },
  connections: { flag: '--connections', value: 32, integer: true, help: 'HTTP client connections, one paced worker each' },
  rate: { flag: '--rate', value: 200, help: 'HTTP requests per second from those workers, in all' },
  stickyShare: { flag: '--sticky-share', value: 0.25, share: true, zero: true, help: 'share of the workers that keep and resend the affinity cookie' },
  sessionRequests: { flag: '--session-requests', value: 40, integer: true, help: 'requests a sticky worker makes before it drops its cookie (a new session)' },
  tunnels: { flag: '--tunnels', value: 8, integer: true, zero: true, help: 'WebSocket clients (open, exchange, close, reopen)' },
  wsMessageMs: { flag: '--ws-message-ms', value: 1000, help: 'between two messages on a tunnel' },
  wsLifetimeMs: { flag: '--ws-lifetime-ms', value: 20_000, help: 'mean life of a tunnel before its client closes it' },
  slowReaders: { flag: '--slow-readers', value: 2, integer: true, zero: true, help: 'clients that read a large response slowly' },
  // Loopback socket buffers and stream buffers hold about 8 MiB between a target and a client that
  // reads nothing: a response well beyond that makes the gateway itself hold back (backpressure).
  slowReadKib: { flag: '--slow-read-kib', value: 32_768, integer: true, help: 'size of that response' },
  slowReadKibps: { flag: '--slow-read-kibps', value: 1024, help: 'how fast they read it' },
  slowUploaders: { flag: '--slow-uploaders', value: 2, integer: true, zero: true, help: 'clients that upload a body slowly' },
  slowUploadKib: { flag: '--slow-upload-kib', value: 256, integer: true, help: 'size of that body' },
  slowUploadKibps: { flag: '--slow-upload-kibps', value: 16, help: 'how fast they send it' },
  flapMs: { flag: '--flap-ms', value: 5000, help: 'the flapping target is up, then refuses connections, this long each' },
  churnMs: { flag: '--churn-ms', value: 15_000, help: 'between two sets of the discovery provider' },
  dnsChurnMs: { flag: '--dns-churn-ms', value: 20_000, help: 'between two DNS answers (dnsmasq)' },
  blackholeEveryMs: { flag: '--blackhole-every-ms', value: 45_000, help: 'a blackhole starts this often (the first at 20 s)' },
  blackholeMs: { flag: '--blackhole-ms', value: 15_000, help: 'how long each blackhole lasts' }
}

const SWITCHES = {
  json: { flag: '--json', help: 'the result as JSON, no progress lines' },
  noNetns: { flag: '--no-netns', help: 'stay in this network namespace (and so without the blackhole)' },
  noDns: { flag: '--no-dns', help: 'no dnsmasq, no dns entry' }
}

function usage () {
  const lines = ['usage: node bench/soak.js [flags]']
  for (const { flag, value, help } of Object.values(FLAGS)) lines.push(`  ${`${flag} N`.padEnd(24)} ${help} (${value})`)
  for (const { flag, help } of Object.values(SWITCHES)) lines.push(`  ${flag.padEnd(24)} ${help}`)
  return lines.join('\n')
}

function parseArgs (argv) {
  const args = { peer: false, inNetns: null }
  for (const [key, { value }] of Object.entries(FLAGS)) args[key] = value
  for (const key of Object.keys(SWITCHES)) args[key] = false
  const byFlag = new Map(Object.entries(FLAGS).map(([key, spec]) => [spec.flag, [key, spec]]))
  const switches = new Map(Object.entries(SWITCHES).map(([key, spec]) => [spec.flag, key]))
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') {
      console.log(usage())
      process.exit(0)
    }
    if (arg === '--peer') args.peer = true
    else if (arg === '--in-netns') args.inNetns = argv[++i]
    else if (switches.has(arg)) args[switches.get(arg)] = true
    else if (byFlag.has(arg)) {
      const [key, spec] = byFlag.get(arg)
      const value = Number(argv[++i])
      const ok = Number.isFinite(value) && (spec.zero ? value >= 0 : value > 0) &&
        (!spec.integer || Number.isInteger(value)) && (!spec.share || value <= 1)
      if (!ok) throw new Error(`${arg} needs a ${spec.share ? 'share from 0 to 1' : spec.integer ? 'whole number' : 'positive number'}, got ${argv[i]}\n${usage()}`)
      args[key] = value
    } else throw new Error(`unknown argument ${arg}\n${usage()}`)
  }
  return args
}

module.exports = { parseArgs, usage }
