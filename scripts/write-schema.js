'use strict'
// `npm run build` step: writes the lolly file's JSON Schema (schema/lolly.schema.json) from its
// TypeScript source (lib/cli/gateway-schema.ts), through the build in dist/.
const { writeFileSync } = require('node:fs')
const { join } = require('node:path')
const { SCHEMA_FILE, publishedSchemaText } = require('../dist/cli/published-schema.js')

writeFileSync(join(__dirname, '..', SCHEMA_FILE), publishedSchemaText())
