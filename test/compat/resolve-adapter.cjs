'use strict'

// Preloaded (`node --require`) by test/compat/run.mjs into each reply-from test file's process:
// `require('..')` (and '../', '../index', '../index.js') from a file in @fastify/reply-from's test
// folder resolves to test/compat/reply-from-adapter.cjs, so the file registers fastify-lolly where it
// thinks it registers reply-from. Every other request resolves as usual (a test's
// `require('../lib/...')` still gets reply-from's own module: such files are not run).

const Module = require('node:module')
const fs = require('node:fs')
const path = require('node:path')

const ADAPTER = path.join(__dirname, 'reply-from-adapter.cjs')
const REPLY_FROM_TEST_DIR = fs.realpathSync(
  path.join(path.dirname(require.resolve('@fastify/reply-from/package.json')), 'test'))
const PACKAGE_ROOT = new Set(['..', '../', '../index', '../index.js'])

const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (request, parent, ...rest) {
  if (PACKAGE_ROOT.has(request) && parent?.filename && inReplyFromTests(parent.filename)) return ADAPTER
  return resolveFilename.call(this, request, parent, ...rest)
}

function inReplyFromTests (filename) {
  return path.dirname(filename) === REPLY_FROM_TEST_DIR || path.dirname(safeRealpath(filename)) === REPLY_FROM_TEST_DIR
}

function safeRealpath (file) {
  try {
    return fs.realpathSync(file)
  } catch {
    return file
  }
}
