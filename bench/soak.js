'use strict'

// `npm run soak [-- --seconds 1800] [-- --json] [-- --help]`
// A long run of mixed traffic through a gateway with every feature on, to find what only shows over
// time: memory that grows, requests that hang, in-flight counts that drift, health states that
// thrash, an event loop that stalls. Not part of `npm test`. The parts, in bench/soak/:
// - netns.js: as root with `ip` and `nft`, the soak re-executes itself inside a network namespace of
//   its own, deleted at the end; every process and nftables rule lives there;
// - gateway.js: this process, the gateway (the built package) and what it measures of itself;
// - peer.js: a child, the world around it: targets (targets.js), dnsmasq (dns.js), the blackhole
//   (blackhole.js), and the load (load.js, tunnels.js).
// The flags and what a good result looks like: README, "Soak test".

const { parseArgs } = require('./soak/args.js')
const { netnsUnavailable, runInNetns } = require('./soak/netns.js')

async function main () {
  const argv = process.argv.slice(2)
  const args = parseArgs(argv)
  if (args.peer) return require('./soak/peer.js').runPeer(args)
  if (args.inNetns === null && netnsUnavailable(args) === null) {
    process.exitCode = await runInNetns(__filename, argv)
    return
  }
  await require('./soak/gateway.js').runGateway(args, __filename)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
