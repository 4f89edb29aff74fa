// node:test reporter of the reply-from compatibility suite (test/compat/run.mjs), for Node 20.19+
// and 24: one JSON line per test outcome on stdout, nothing else.
//
//   { "file": "node_modules/@fastify/reply-from/test/x.test.js", "test": "parent > child",
//     "outcome": "pass" | "fail" | "skip", "error": "first line of the message", "failureType": "..." }
//
// Lines on stderr from the adapter or the loopback guard ("[compat-adapter] register refused: ...",
// "[compat-guard] ...") become { "file", "test": null, "outcome": "note", "note": "..." }, once each.
//
// A failure of the file itself (it threw while loading, an uncaught error after a test ended, a
// non-zero exit) is reported with `"test": "*"`; its error is the first diagnostic or stderr line that
// says what went wrong. A parent that failed only because a subtest did carries
// "failureType": "subtestsFailed", so the runner can count the subtest alone.

import path from 'node:path'
import { inspect } from 'node:util'

const NOTE_LINE = /^\[compat-(adapter|guard)\] /
const SUMMARY_LINE = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+$/

export default async function * compatReporter (source) {
  const stack = [] // names of the tests started, by nesting
  const notes = new Map() // file -> diagnostics and stderr lines that may explain a file failure
  const noted = new Set()

  for await (const event of source) {
    const data = event.data ?? {}
    switch (event.type) {
      case 'test:start':
        stack[data.nesting] = data.name
        stack.length = data.nesting + 1
        break
      case 'test:diagnostic':
      case 'test:stderr': {
        const text = String(data.message ?? '').trim()
        if (text === '' || SUMMARY_LINE.test(text)) break
        const file = data.file ?? ''
        if (!notes.has(file)) notes.set(file, [])
        const lines = text.split('\n')
        notes.get(file).push(...lines)
        for (const line of lines.map((l) => l.replace(/^#\s*/, '').trim())) {
          if (!NOTE_LINE.test(line) || noted.has(file + line)) continue
          noted.add(file + line)
          yield JSON.stringify({ file: data.file === undefined ? '' : relative(data.file), test: null, outcome: 'note', note: line.slice(0, 300) }) + '\n'
        }
        break
      }
      case 'test:pass':
      case 'test:fail': {
        const file = data.file === undefined ? '' : relative(data.file)
        const isFile = data.nesting === 0 && data.file !== undefined && isFileName(data.name, data.file)
        const record = {
          file,
          test: isFile ? '*' : [...stack.slice(0, data.nesting), data.name].join(' > '),
          outcome: event.type === 'test:pass' ? (data.skip || data.todo ? 'skip' : 'pass') : 'fail'
        }
        if (record.outcome === 'fail') {
          const error = data.details?.error
          record.failureType = error?.failureType ?? 'unknown'
          // "test failed" says nothing; a timeout of the file's own test does (handles left open).
          record.error = isFile && (error?.message ?? 'test failed') === 'test failed' ? fileError(notesOf(notes, data.file)) : firstLine(error)
          if (isFile && error?.failureType === 'testTimeoutFailure') record.error += ': the file kept running after its tests (open handles)'
        }
        yield JSON.stringify(record) + '\n'
        break
      }
      default:
        break
    }
  }
}

/** The lines noted for `file`; Node 24 does not always name the file on stderr events: then all. */
function notesOf (notes, file) {
  const own = notes.get(file) ?? notes.get(relative(file))
  return own !== undefined && own.length > 0 ? own : [...notes.values()].flat()
}

function relative (file) {
  return path.relative(process.cwd(), file) || file
}

/** The runner names a file's own test after the file: absolute on Node 20, as given on Node 24. */
function isFileName (name, file) {
  return name === file || path.resolve(String(name)) === path.resolve(file)
}

/** The first line of what a failed test threw (the assertion, not node:test's wrapper). */
function firstLine (error) {
  if (error === undefined || error === null) return 'failed (no error)'
  const inner = error.code === 'ERR_TEST_FAILURE' && error.cause !== undefined && error.cause !== null ? error.cause : error
  const message = typeof inner === 'object' ? String(inner.message ?? inner) : String(inner)
  const line = message.split('\n').find((part) => part.trim() !== '') ?? ''
  const prefix = typeof inner === 'object' && inner.code !== undefined && inner.code !== 'ERR_ASSERTION' ? `${inner.code}: ` : ''
  // "Expected values to be strictly equal:" alone says nothing: add what was compared.
  const compared = typeof inner === 'object' && inner.code === 'ERR_ASSERTION' && 'expected' in inner && /^Expected values|^Values (have|are)/.test(line)
    ? ` expected ${short(inner.expected)}, got ${short(inner.actual)}`
    : ''
  return (prefix + line.trim() + compared).slice(0, 300)
}

function short (value) {
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 })
}

/** Why a file failed outside its tests: the first line that names an error. */
function fileError (all) {
  const lines = all.map((line) => line.replace(/^#\s*/, '')).filter((line) => !NOTE_LINE.test(line.trim()))
  const named = lines.find((line) => /\b(Error|generated asynchronous activity|uncaught|unhandled)\b/i.test(line))
  return (named ?? lines[0] ?? 'the test file failed outside its tests').trim().slice(0, 300)
}
