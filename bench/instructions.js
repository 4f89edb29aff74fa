'use strict'

// `node bench/instructions.js [--baseline=<dir>] [--runs=N] [--requests=N]` (after `npm run build`):
// instructions per proxied request, counted by valgrind (callgrind), for bare @fastify/reply-from,
// this build of fastify-lolly and, with --baseline, another checkout of it (built). CPU time per
// request on this machine's two shared cores varies by 10-30 % from round to round; an instruction
// count does not depend on what else runs, so it tells changes of a few percent apart.
//
// Each contender runs `runs` times with a warm-up's worth of requests and `runs` times with
// `requests` more; instructions per request = (mean of the long runs - mean of the short ones) /
// `requests`, so startup cancels out. The spread of the long runs is printed as the noise (JIT and
// GC timing still vary a little between runs). Slow: a run takes about a minute.

const { execFile } = require('node:child_process')
const http = require('node:http')
const path = require('node:path')
const { promisify } = require('node:util')
const { formatTable, fixed } = require('./table.js')

const run = promisify(execFile)
const APP = path.join(__dirname, 'instructions-app.js')
const ROOT = path.join(__dirname, '..')
const WARM = 300
const PAYLOAD = Buffer.alloc(1024, 'x')

function parseArgs (argv) {
  const args = { baseline: undefined, runs: 3, requests: 1000 }
  for (const arg of argv) {
    const [name, value] = arg.split('=', 2)
    if (name === '--baseline' && value !== undefined) args.baseline = path.resolve(value)
    else if (name === '--runs' && /^[1-9]\d*$/.test(value ?? '')) args.runs = Number(value)
    else if (name === '--requests' && /^[1-9]\d*$/.test(value ?? '')) args.requests = Number(value)
    else throw new Error(`bad argument ${arg}\nusage: node bench/instructions.js [--baseline=<dir>] [--runs=N] [--requests=N]`)
  }
  return args
}

/** Instructions valgrind counted for one child run of `count` requests. */
async function count (which, requests, url) {
  const { stderr } = await run('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null',
    process.execPath, '--single-threaded', APP, which, String(requests), url], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })
  const match = /Collected : (\d+)/.exec(stderr)
  if (match === null) throw new Error(`valgrind printed no count for ${which}:\n${stderr.slice(-2000)}`)
  return Number(match[1])
}

const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length

async function main () {
  const args = parseArgs(process.argv.slice(2))
  try {
    await run('valgrind', ['--version'])
  } catch {
    throw new Error('valgrind is not installed (apt-get install valgrind)')
  }
  const upstream = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': PAYLOAD.length })
    res.end(PAYLOAD)
  })
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${upstream.address().port}`
  const contenders = [
    { key: 'bare', label: '@fastify/reply-from, one base', which: 'bare' },
    { key: 'lolly', label: 'fastify-lolly (this build), round-robin', which: ROOT },
    ...(args.baseline === undefined ? [] : [{ key: 'baseline', label: `fastify-lolly at ${args.baseline}`, which: args.baseline }])
  ]
  try {
    for (const contender of contenders) {
      // Two at a time: the machine's two cores; the counts do not depend on it.
      const short = []
      const long = []
      for (let i = 0; i < args.runs; i++) {
        const [s, l] = await Promise.all([count(contender.which, WARM, url), count(contender.which, WARM + args.requests, url)])
        short.push(s)
        long.push(l)
        console.log(`  ${contender.label}: run ${i + 1}/${args.runs}`)
      }
      contender.perRequest = (mean(long) - mean(short)) / args.requests
      contender.spread = (Math.max(...long) - Math.min(...long)) / args.requests
    }
  } finally {
    upstream.close()
  }
  const bare = contenders[0].perRequest
  const lolly = contenders[1].perRequest
  const columns = [
    { title: 'proxy', value: (c) => c.label, align: 'left' },
    { title: 'instructions/request', value: (c) => fixed(c.perRequest, 0) },
    { title: 'spread of runs', value: (c) => `±${fixed(c.spread / 2, 0)}` },
    { title: 'vs bare', value: (c) => fixed(c.perRequest / bare, 3) },
    { title: 'this build vs it', value: (c) => c.key === 'baseline' ? fixed(lolly / c.perRequest, 3) : '-' }
  ]
  console.log(formatTable(`Instructions per request (valgrind), ${args.runs} runs of ${WARM} and ${WARM + args.requests} requests`, columns, contenders))
}

main().catch((err) => {
  console.error(err.message)
  process.exit(1)
})
