'use strict'

// In-process profiles of a bench child over a window (not its startup, unlike --cpu-prof), through
// the inspector, written to bench/profiles/ for bench/profile-summary.js or Chrome DevTools:
// - cpu: where the time goes (.cpuprofile);
// - heap: where the objects that outlive a young-generation GC are allocated (.heapprofile). Those
//   are the ones that make GC expensive: they are copied, promoted, and left to the full GC.

const fs = require('node:fs')
const inspector = require('node:inspector')
const path = require('node:path')

// Sampling period of the CPU profiler, µs: finer than V8's 1 ms default, a request takes ~100 µs.
const CPU_SAMPLE_US = 100
// Average bytes between two heap samples (V8's default is 32 KiB; a request allocates ~20 KiB).
const HEAP_SAMPLE_BYTES = 4096

function createProfiler () {
  let session
  let kind
  const post = (method, params) => new Promise((resolve, reject) => {
    session.post(method, params, (err, result) => { if (err) reject(err); else resolve(result) })
  })
  return {
    async start (profileKind = 'cpu') {
      if (profileKind !== 'cpu' && profileKind !== 'heap') throw new Error(`unknown profile kind ${profileKind}`)
      kind = profileKind
      session = new inspector.Session()
      session.connect()
      if (kind === 'cpu') {
        await post('Profiler.enable')
        await post('Profiler.setSamplingInterval', { interval: CPU_SAMPLE_US })
        await post('Profiler.start')
      } else {
        await post('HeapProfiler.enable')
        // Samples survive a young-generation GC only if their object did; the full GC may take them later.
        await post('HeapProfiler.startSampling', {
          samplingInterval: HEAP_SAMPLE_BYTES,
          includeObjectsCollectedByMinorGC: false,
          includeObjectsCollectedByMajorGC: true
        })
      }
    },
    async stop (name) {
      const { profile } = kind === 'cpu' ? await post('Profiler.stop') : await post('HeapProfiler.stopSampling')
      session.disconnect()
      const dir = path.join(__dirname, 'profiles')
      fs.mkdirSync(dir, { recursive: true })
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const file = path.join(dir, `${name}-${stamp}.${kind === 'cpu' ? 'cpuprofile' : 'heapprofile'}`)
      fs.writeFileSync(file, JSON.stringify(profile))
      return file
    }
  }
}

module.exports = { createProfiler }
