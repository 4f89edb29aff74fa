// The reply-from compatibility suite: runs @fastify/reply-from's own test files against
// fastify-lolly's reply.from (through test/compat/reply-from-adapter.cjs), each file in a process
// of its own, and compares the failures with test/compat/expected-differences.json.
//
//   node test/compat/run.mjs              run, compare, exit 1 on any unexplained change
//   node test/compat/run.mjs --baseline   the same files against the real @fastify/reply-from
//   node test/compat/run.mjs --update     rewrite expected-differences.json from the failures
//   node test/compat/run.mjs --file=x     one file (x.test.js, or x)
//   node test/compat/run.mjs --jobs=N     files run at once (default 3)
//
// The run fails when a test fails that is not listed, when a listed test passes now (a difference
// that disappeared: remove its entry, and its README row if it was the last), when a file crashes or
// times out without a whole-file ("test": "*") entry, and when an entry has no README row yet
// ("readme": "UNASSIGNED", what --update writes for a new failure).
//
// It runs the BUILT package: `npm run build` first (`npm test` does).

import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const require = createRequire(import.meta.url)
const TEST_DIR = path.join(path.dirname(require.resolve('@fastify/reply-from/package.json')), 'test')
const EXPECTED_FILE = path.join(ROOT, 'test/compat/expected-differences.json')
const README = path.join(ROOT, 'README.md')
// Above node:test's own 30 s test timeout, which on Node 24 does not end a file kept open by handles.
const FILE_TIMEOUT_MS = 40_000
const UNASSIGNED = 'UNASSIGNED'
// Files that wait out node:test's 30 s timeout (their tests expect a hang: see the slowest files a
// run prints): started first, side by side, so the rest of the files fill the other workers instead
// of waiting behind them at the end (compat went from 108 s with two workers to 77 s with three).
const SLOW_FIRST = ['http2-timeout.test.js', 'http2-timeout-disabled.test.js', 'undici-with-path-in-base.test.js']

/**
 * reply-from test files that are never run, and why. Safety first: traffic must never leave loopback,
 * so a file that could reach any other address, private or public, is not run (the loopback guard,
 * test/compat/loopback-guard.cjs, refuses such connections anyway). Then the files that test
 * reply-from's internals (its lib/ modules, or the package rebuilt through proxyquire): nothing of
 * fastify-lolly to test there.
 */
const EXCLUDED = {
  'connect-timeout.test.js': 'safety: dials 10.255.255.1, a private-range address, to provoke a connect timeout',
  'base-path.test.js': 'safety: proxies to http://httpbin.org, which its nock intercepts for node:http only, not for undici',
  'host-header.test.js': 'safety: proxies to http://httpbin.org, which its nock intercepts for node:http only, not for undici',
  'http-invalid-target.test.js': 'safety: resolves and dials abc.xyz1, a non-loopback name',
  'http2-invalid-target.test.js': 'safety: resolves and dials abc.xyz1, a non-loopback name',
  'build-url.test.js': "not applicable: unit test of reply-from's buildURL (require('../lib/utils'))",
  'utils-filter-pseudo-headers.test.js': "not applicable: unit test of reply-from's filterPseudoHeaders (require('../lib/utils'))",
  'undici-agent.test.js': "not applicable: rebuilds reply-from's lib/request with proxyquire to count undici pools",
  'undici-options.test.js': "not applicable: rebuilds reply-from's lib/request with proxyquire to inspect the undici options",
  'unexpected-error.test.js': 'not applicable: rebuilds reply-from with proxyquire around a stubbed lib/request'
}

/**
 * Names and addresses that the safety scan below finds in files that are run, each reviewed: where
 * the name is only a string and never dialled.
 */
const REVIEWED = {
  'undici-custom-dispatcher.test.js': {
    'myserver.local': 'only the origin handed to a custom dispatcher bound to 127.0.0.1, never resolved'
  }
}

const args = parseArgs(process.argv.slice(2))

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

async function main () {
  const started = Date.now()
  const all = readdirSync(TEST_DIR).filter((name) => name.endsWith('.test.js')).sort()
  checkExclusions(all)
  let files = all.filter((name) => !(name in EXCLUDED))
  // Every file that could run, whatever --file says: a new reply-from release is reviewed before any runs.
  scanForNonLoopback(files)
  if (args.file !== undefined) {
    const wanted = args.file.endsWith('.test.js') ? args.file : `${args.file}.test.js`
    if (wanted in EXCLUDED) fail(`${wanted} is never run: ${EXCLUDED[wanted]}`)
    if (!files.includes(wanted)) fail(`no reply-from test file named ${wanted}`)
    files = [wanted]
  }
  if (!args.baseline) checkBuild()

  const mode = args.baseline ? 'the real @fastify/reply-from (--baseline)' : 'fastify-lolly (dist/) through the adapter'
  console.log(`reply-from compat: ${files.length} files against ${mode}, ${args.jobs} at a time; ${Object.keys(EXCLUDED).length} files never run (see EXCLUDED in test/compat/run.mjs)`)

  const results = await runAll(files)
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  const outcome = summarise(results)
  // A file that tried to leave loopback: the guard stopped it, but the exclusion list is wrong.
  const guarded = [...outcome.notes].flatMap(([file, notes]) =>
    notes.filter((note) => note.startsWith('[compat-guard]')).map((note) => ({ file, test: '(loopback guard)', error: note })))
  if (guarded.length > 0) {
    printList('LOOPBACK GUARD: connections to non-loopback addresses refused (exclude these files)', guarded)
    process.exitCode = 1
  }

  if (args.baseline) {
    printCounts(outcome, results, seconds)
    printList('failures of the real reply-from', outcome.failures.concat(outcome.fileFailures), outcome.notes)
    console.log(`\nreal @fastify/reply-from: ${outcome.passed.length} of ${outcome.passed.length + outcome.failures.length} tests pass`)
    return
  }

  const previous = readExpected()
  if (args.update) {
    const next = update(previous, outcome, files)
    printList('failures', outcome.fileFailures.concat(outcome.failures), outcome.notes)
    writeFileSync(EXPECTED_FILE, JSON.stringify(next, null, 2) + '\n')
    printCounts(outcome, results, seconds)
    const unassigned = next.filter((entry) => entry.readme === UNASSIGNED).length
    console.log(`\nwrote ${path.relative(ROOT, EXPECTED_FILE)}: ${next.length} entries, ${unassigned} with readme "${UNASSIGNED}" (give each its README row and reason before the run can pass)`)
    return
  }

  const problems = compare(previous, outcome, files)
  printCounts(outcome, results, seconds)
  console.log(`expected differences matched: ${problems.matchedEntries} entries, covering ${problems.coveredFailures} failing tests`)
  printList('UNEXPECTED FAILURES (not in expected-differences.json)', problems.unexpected, outcome.notes)
  printList('VANISHED DIFFERENCES (listed, but now passing or not found: remove the entry)', problems.vanished)
  printList('INVALID ENTRIES in expected-differences.json', problems.invalid)
  const bad = problems.unexpected.length + problems.vanished.length + problems.invalid.length + guarded.length
  console.log(bad === 0 ? '\nreply-from compat: OK' : `\nreply-from compat: FAILED (${bad} problems)`)
  process.exitCode = bad === 0 ? 0 : 1
}

// ---- running ----

async function runAll (files) {
  const queue = [...files.filter((file) => SLOW_FIRST.includes(file)), ...files.filter((file) => !SLOW_FIRST.includes(file))]
  const results = []
  const workers = Array.from({ length: Math.min(args.jobs, files.length) }, async () => {
    while (queue.length > 0) {
      const file = queue.shift()
      const result = await runFile(file)
      results.push(result)
      if (args.verbose) console.log(`  ${file}: ${describeResult(result)}`)
    }
  })
  await Promise.all(workers)
  return results.sort((a, b) => a.file.localeCompare(b.file))
}

function runFile (file) {
  const started = Date.now()
  const nodeArgs = [
    '--test',
    '--test-reporter=./test/compat/reporter.mjs',
    '--test-timeout=30000',
    '--require', './test/compat/loopback-guard.cjs',
    ...(args.baseline ? [] : ['--require', './test/compat/resolve-adapter.cjs']),
    // Absolute: Node 24 takes --test arguments as globs, which never match inside node_modules.
    path.join(TEST_DIR, file)
  ]
  return new Promise((resolve) => {
    // Detached: a process group of its own, so that a timeout kills node --test and the test's process.
    const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000) })
    const timer = setTimeout(() => {
      timedOut = true
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
    }, FILE_TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const records = []
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue
        try {
          const record = JSON.parse(line)
          record.file = path.basename(record.file || file)
          records.push(record)
        } catch {}
      }
      resolve({ file, records, code, signal, timedOut, stderr, ms: Date.now() - started })
    })
  })
}

// ---- outcomes ----

/** Tests passed, skipped, failed (leaf failures), and files that crashed or timed out. */
function summarise (results) {
  const notes = new Map() // file -> what the adapter and the guard said (register refusals, FST_LOLLY_* answers)
  const passed = []
  const skipped = []
  const failures = []
  const fileFailures = []
  for (const result of results) {
    let fileFailure = null
    for (const record of result.records) {
      if (record.outcome === 'note') {
        if (!notes.has(result.file)) notes.set(result.file, [])
        notes.get(result.file).push(record.note)
        continue
      }
      if (record.test === '*') {
        if (record.outcome === 'fail') fileFailure = record.error
        continue
      }
      if (record.outcome === 'pass') passed.push(record)
      else if (record.outcome === 'skip') skipped.push(record)
      // A parent that failed only because a subtest did: the subtest is the failure.
      else if (record.failureType !== 'subtestsFailed') failures.push(record)
    }
    if (result.timedOut) {
      fileFailure = `timed out: killed after ${FILE_TIMEOUT_MS / 1000} s`
    } else if (fileFailure === null && result.code !== 0 && !result.records.some((r) => r.outcome === 'fail')) {
      const lines = result.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '')
      const line = lines.find((l) => /Error|Could not|Cannot/.test(l)) ?? lines.at(-1) ?? `exit code ${result.code}${result.signal ? `, ${result.signal}` : ''}`
      fileFailure = `crashed: ${line.trim()}`
    }
    if (fileFailure !== null) fileFailures.push({ file: result.file, test: '*', outcome: 'fail', error: fileFailure })
  }
  return { passed, skipped, failures, fileFailures, notes }
}

function describeResult (result) {
  const failed = result.records.filter((r) => r.outcome === 'fail' && r.failureType !== 'subtestsFailed').length
  const passed = result.records.filter((r) => r.outcome === 'pass').length
  return `${passed} pass, ${failed} fail${result.timedOut ? ', TIMED OUT' : ''} (${(result.ms / 1000).toFixed(1)} s)`
}

// ---- expected differences ----

function readExpected () {
  if (!existsSync(EXPECTED_FILE)) return []
  const list = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8'))
  if (!Array.isArray(list)) fail(`${path.relative(ROOT, EXPECTED_FILE)} must hold a JSON array`)
  return list
}

const key = (file, test) => `${file}\u0000${test}`

function compare (expected, outcome, files) {
  const ran = new Set(files)
  const rows = readmeRows()
  const invalid = []
  const entries = []
  for (const entry of expected) {
    // --file=NAME checks the entries of that file only.
    if (args.file !== undefined && !ran.has(entry?.file)) continue
    const label = { file: entry?.file, test: entry?.test }
    if (typeof entry?.file !== 'string' || typeof entry.test !== 'string') {
      invalid.push({ ...label, error: 'an entry needs a file and a test (a name path, or "*")' })
    } else if (typeof entry.readme !== 'string' || entry.readme.trim() === '' || entry.readme === UNASSIGNED) {
      invalid.push({ ...label, error: `readme is ${JSON.stringify(entry.readme)}: name the row of the README's 'Differences from reply-from' table this difference is (why: ${entry.why ?? '?'})` })
    } else if (!rows.has(entry.readme)) {
      invalid.push({ ...label, error: `readme "${entry.readme}" is not a row of the README's 'Differences from reply-from' table (rows: ${[...rows].join(', ') || 'none found'})` })
    } else if (typeof entry.why !== 'string' || entry.why.trim() === '' || entry.why.startsWith(UNASSIGNED)) {
      invalid.push({ ...label, error: 'why is missing: say in a few words why fastify-lolly differs here' })
    } else if (entry.file in EXCLUDED) {
      invalid.push({ ...label, error: `this file is never run (${EXCLUDED[entry.file]})` })
    } else if (!existsSync(path.join(TEST_DIR, entry.file))) {
      invalid.push({ ...label, error: 'no such reply-from test file (any more)' })
    }
    if (ran.has(entry?.file)) entries.push(entry)
  }

  const exact = new Map(entries.filter((e) => e.test !== '*').map((e) => [key(e.file, e.test), e]))
  const wholeFile = new Map(entries.filter((e) => e.test === '*').map((e) => [e.file, e]))
  const used = new Set()
  const unexpected = []
  let coveredFailures = 0
  for (const failure of outcome.failures) {
    const entry = exact.get(key(failure.file, failure.test)) ?? wholeFile.get(failure.file)
    if (entry === undefined) {
      unexpected.push(failure)
    } else {
      used.add(entry)
      coveredFailures++
    }
  }
  for (const failure of outcome.fileFailures) {
    const entry = wholeFile.get(failure.file)
    if (entry === undefined) unexpected.push(failure)
    else used.add(entry)
  }

  const seen = new Map()
  for (const record of [...outcome.passed, ...outcome.skipped]) seen.set(key(record.file, record.test), record.outcome)
  const vanished = []
  for (const entry of entries) {
    if (used.has(entry)) continue
    if (entry.test === '*') {
      vanished.push({ file: entry.file, test: '*', error: 'the whole file passes now' })
    } else {
      const state = seen.get(key(entry.file, entry.test))
      vanished.push({ file: entry.file, test: entry.test, error: state === undefined ? 'test not found (renamed, or no longer run)' : `${state === 'pass' ? 'passes' : 'is skipped'} now` })
    }
  }
  return { unexpected, vanished, invalid, matchedEntries: used.size, coveredFailures }
}

/** The first cells of the table under the README's "Differences from reply-from" heading. */
function readmeRows () {
  const rows = new Set()
  if (!existsSync(README)) return rows
  const lines = readFileSync(README, 'utf8').split('\n')
  const heading = lines.findIndex((line) => /^#+\s.*Differences from reply-from/i.test(line))
  if (heading === -1) return rows
  const table = []
  for (const line of lines.slice(heading + 1)) {
    if (/^#/.test(line)) break
    if (line.startsWith('|')) table.push(line)
    else if (table.length > 0) break
  }
  // The header line and the | --- | line are not rows.
  for (const line of table.slice(2)) rows.add(line.split('|')[1].trim())
  return rows
}

/** The new list: one entry per failure, keeping the readme/why of entries that still match. */
function update (previous, outcome, files) {
  const ran = new Set(files)
  const kept = previous.filter((entry) => !ran.has(entry.file))
  const old = new Map(previous.map((entry) => [key(entry.file, entry.test), entry]))
  const failing = new Map()
  for (const failure of [...outcome.fileFailures, ...outcome.failures]) {
    if (!failing.has(failure.file)) failing.set(failure.file, [])
    failing.get(failure.file).push(failure)
  }
  const next = [...kept]
  for (const [file, failures] of failing) {
    // A file that still fails and had a whole-file entry keeps it; so does a file that crashed.
    const whole = old.get(key(file, '*'))
    const crashed = failures.find((failure) => failure.test === '*')
    if (whole !== undefined || crashed !== undefined) {
      next.push(entryFor({ file, test: '*', error: crashed?.error ?? failures[0].error }, whole, outcome.notes.get(file)))
      continue
    }
    for (const failure of failures) next.push(entryFor(failure, old.get(key(file, failure.test)), outcome.notes.get(file)))
  }
  return next.sort((a, b) => a.file.localeCompare(b.file) || a.test.localeCompare(b.test))
}

function entryFor (failure, previous, notes = []) {
  const said = notes.length > 0 ? `; ${notes.slice(0, 2).join('; ')}` : ''
  return {
    file: failure.file,
    test: failure.test,
    readme: previous?.readme ?? UNASSIGNED,
    why: previous?.why ?? `${UNASSIGNED} (error: ${failure.error}${said})`
  }
}

// ---- safety ----

function checkExclusions (all) {
  const missing = Object.keys(EXCLUDED).filter((name) => !all.includes(name))
  // A file gone from reply-from needs nothing; say so, so the list stays true.
  if (missing.length > 0) console.log(`note: excluded files no longer in reply-from: ${missing.join(', ')}`)
}

/**
 * Refuses to run a file that names an address or a host other than loopback, or uses nock or
 * proxyquire, unless it is reviewed above: a new reply-from release must be looked at first.
 */
function scanForNonLoopback (files) {
  const findings = []
  for (const file of files) {
    const code = readFileSync(path.join(TEST_DIR, file), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\/?\*)/.test(line)) // comments (issue links) are not traffic
      .join('\n')
    const reviewed = REVIEWED[file] ?? {}
    const found = new Set()
    for (const match of code.matchAll(/\b(?:https?|wss?):\/\/([^/'"`\s:?#]+)/gi)) found.add(match[1])
    for (const match of code.matchAll(/['"`]\/\/([^/'"`\s:?#]+)/g)) found.add(match[1]) // protocol-relative
    for (const match of code.matchAll(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g)) found.add(match[0])
    for (const match of code.matchAll(/\bhost(?:name)?\s*:\s*['"`]([^'"`]+)['"`]/g)) found.add(match[1])
    for (const host of found) {
      if (host.includes('${') || isLoopbackName(host) || host in reviewed) continue
      if (/^host-override$/.test(host)) continue // rewrite-request-headers: a Host header value, not an address
      findings.push(`${file}: ${host}`)
    }
    if (/\b(nock|proxyquire)\b/.test(code)) findings.push(`${file}: uses nock or proxyquire`)
    if (/require\(['"]\.\.\/lib\//.test(code)) findings.push(`${file}: requires reply-from's lib/`)
  }
  if (findings.length > 0) {
    fail(`reply-from test files that may leave loopback or test reply-from's internals; review each and add it to EXCLUDED (or REVIEWED) in test/compat/run.mjs:\n  ${findings.join('\n  ')}`)
  }
}

function isLoopbackName (host) {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  return name === 'localhost' || name === '::1' || name === '0.0.0.0' || /^127\.\d+\.\d+\.\d+$/.test(name)
}

function checkBuild () {
  const built = path.join(ROOT, 'dist/index.js')
  if (!existsSync(built)) fail('dist/index.js is missing: run `npm run build` first')
  const builtAt = statSync(built).mtimeMs
  const newer = listTs(path.join(ROOT, 'lib')).filter((file) => statSync(file).mtimeMs > builtAt)
  if (newer.length > 0) console.log(`note: ${newer.length} file(s) in lib/ are newer than dist/ (e.g. ${path.relative(ROOT, newer[0])}): the run tests the last build`)
}

function listTs (dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? listTs(full) : entry.name.endsWith('.ts') ? [full] : []
  })
}

// ---- output ----

function printCounts (outcome, results, seconds) {
  const crashed = outcome.fileFailures.length
  console.log(`\nfiles run: ${results.length} (${crashed} crashed or timed out) in ${seconds} s`)
  console.log(`tests: ${outcome.passed.length} pass, ${outcome.failures.length} fail, ${outcome.skipped.length} skipped`)
  const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 3)
  console.log(`slowest files: ${slowest.map((r) => `${r.file} ${(r.ms / 1000).toFixed(1)} s`).join(', ')}`)
}

/** Items grouped by file, each file's notes (what the adapter or the guard said) once under its name. */
function printList (title, items, notes = new Map()) {
  if (items.length === 0) return
  console.log(`\n${title}: ${items.length}`)
  const byFile = new Map()
  for (const item of items) {
    if (!byFile.has(item.file)) byFile.set(item.file, [])
    byFile.get(item.file).push(item)
  }
  for (const [file, list] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`  ${file}`)
    for (const said of notes.get(file) ?? []) console.log(`    note: ${said}`)
    for (const item of list) console.log(`    - ${item.test}\n        ${item.error ?? ''}`)
  }
}

function parseArgs (argv) {
  const parsed = { baseline: false, update: false, verbose: false, file: undefined, jobs: 3 }
  for (const arg of argv) {
    if (arg === '--baseline') parsed.baseline = true
    else if (arg === '--update') parsed.update = true
    else if (arg === '--verbose') parsed.verbose = true
    else if (arg.startsWith('--file=')) parsed.file = arg.slice('--file='.length)
    else if (arg.startsWith('--jobs=')) parsed.jobs = Math.max(1, Number.parseInt(arg.slice('--jobs='.length), 10) || 3)
    else fail(`unknown argument ${arg} (--baseline, --update, --file=NAME, --jobs=N, --verbose)`)
  }
  if (parsed.baseline && parsed.update) fail('--baseline and --update do not go together: the list describes fastify-lolly')
  return parsed
}

function fail (message) {
  console.error(`reply-from compat: ${message}`)
  process.exit(1)
}
