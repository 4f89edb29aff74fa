'use strict'

const neostandard = require('neostandard')

// A target's mutable fields have one owner each (lib/pool/target.ts): the pool writes its load,
// weights and accounting through PoolFields, its TargetHealth writes its state through HealthFields.
// Nothing else in lib/ may import either.
function onlyOwners (allowed) {
  const names = ['PoolFields', 'HealthFields'].filter((name) => !allowed.includes(name))
  return {
    'no-restricted-imports': ['error', {
      patterns: [{
        group: ['**/pool/target.js', './target.js'],
        importNames: names,
        message: 'Only its owner writes a target field: PoolFields in lib/pool, HealthFields in lib/health.'
      }]
    }]
  }
}

module.exports = [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**']
  }),
  { files: ['lib/**/*.ts'], ignores: ['lib/pool/**', 'lib/health/**'], rules: onlyOwners([]) },
  { files: ['lib/pool/**/*.ts'], rules: onlyOwners(['PoolFields']) },
  { files: ['lib/health/**/*.ts'], rules: onlyOwners(['HealthFields']) }
]
