#!/usr/bin/env node
'use strict'

// The `lolly` command; everything it does is in lib/cli (built to dist/cli). `npm run build` first.
require('../dist/cli/main.js').main(process.argv.slice(2), process).then((code) => process.exit(code))
