'use strict'

// Summarises a profile written by `npm run bench -- --cpu-prof=<x>` (.cpuprofile: where the time
// goes) or `--heap-prof=<x>` (.heapprofile: where objects that outlive a young-generation GC are
// allocated): the top functions by self cost over all code, the same for this package's own code
// (dist/, named by its lib/ source), and this package's functions with everything they call.
//   node bench/profile-summary.js <file> [top=15]

const fs = require('node:fs')
const path = require('node:path')

const DIST = `${path.resolve(__dirname, '..', 'dist')}${path.sep}`

/**
 * Both formats as one: `nodes` (id, callFrame, children ids) and `self`, the cost of each node id
 * (µs of CPU, or sampled bytes). Idle time is left out: a child idles between its runs.
 */
function normalise (profile) {
  if (Array.isArray(profile.nodes)) {
    const self = new Map()
    for (let i = 0; i < profile.samples.length; i++) {
      // timeDeltas[i] is the time before samples[i] was taken: it belongs to that sample's node.
      self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0))
    }
    for (const node of profile.nodes) if (node.callFrame.functionName === '(idle)') self.delete(node.id)
    return { unit: 'ms', scale: 1 / 1000, nodes: profile.nodes, self, root: profile.nodes[0].id }
  }
  const nodes = []
  const self = new Map()
  const stack = [profile.head]
  while (stack.length > 0) {
    const node = stack.pop()
    nodes.push({ id: node.id, callFrame: node.callFrame, children: node.children.map((child) => child.id) })
    self.set(node.id, node.selfSize)
    stack.push(...node.children)
  }
  return { unit: 'KiB', scale: 1 / 1024, nodes, self, root: profile.head.id }
}

/** `name file` for our functions (by lib/ source), `name package/file:line` for the rest. */
function describe ({ functionName, url, lineNumber }) {
  const file = url.replace(/^file:\/\//, '')
  const name = functionName || '(anonymous)'
  if (file.startsWith(DIST)) return { key: `${name} lib/${file.slice(DIST.length).replace(/\.js$/, '.ts')}`, ours: true }
  const at = file.lastIndexOf('node_modules/')
  const where = at === -1 ? file : file.slice(at + 'node_modules/'.length)
  return { key: where === '' ? name : `${name} ${where}:${lineNumber + 1}`, ours: false }
}

function selfCosts ({ nodes, self }) {
  const byKey = new Map()
  for (const node of nodes) {
    const { key, ours } = describe(node.callFrame)
    const entry = byKey.get(key) ?? { name: key, cost: 0, ours }
    entry.cost += self.get(node.id) ?? 0
    byKey.set(key, entry)
  }
  return [...byKey.values()].sort((a, b) => b.cost - a.cost)
}

/** Cost of our functions with everything they call, counted once per function when it recurses. */
function inclusiveCosts ({ nodes, self, root }) {
  const byId = new Map(nodes.map((node) => [node.id, node]))
  // Subtree totals, children before parents (iterative: profiles can be deep).
  const subtree = new Map()
  const order = []
  const pending = [root]
  while (pending.length > 0) {
    const id = pending.pop()
    order.push(id)
    pending.push(...(byId.get(id).children ?? []))
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const node = byId.get(order[i])
    let cost = self.get(node.id) ?? 0
    for (const child of node.children ?? []) cost += subtree.get(child)
    subtree.set(node.id, cost)
  }
  const byKey = new Map()
  const walk = [{ id: root, open: new Set() }]
  while (walk.length > 0) {
    const { id, open } = walk.pop()
    const node = byId.get(id)
    const { key, ours } = describe(node.callFrame)
    let inner = open
    if (ours && !open.has(key)) {
      byKey.set(key, (byKey.get(key) ?? 0) + subtree.get(id))
      inner = new Set(open).add(key)
    }
    for (const child of node.children ?? []) walk.push({ id: child, open: inner })
  }
  return [...byKey.entries()].map(([name, cost]) => ({ name, cost })).sort((a, b) => b.cost - a.cost)
}

function main () {
  const [file, topArg] = process.argv.slice(2)
  if (file === undefined) throw new Error('usage: node bench/profile-summary.js <file.cpuprofile|file.heapprofile> [top]')
  const top = Number(topArg ?? 15)
  const profile = normalise(JSON.parse(fs.readFileSync(file, 'utf8')))
  const functions = selfCosts(profile)
  const total = functions.reduce((sum, f) => sum + f.cost, 0)
  const line = (f) => `${((f.cost / total) * 100).toFixed(2).padStart(6)}%  ${(f.cost * profile.scale).toFixed(0).padStart(7)} ${profile.unit}  ${f.name}`
  const what = profile.unit === 'ms' ? 'CPU time (idle left out)' : 'sampled bytes of objects that outlived a young-generation GC'
  console.log(`${(total * profile.scale).toFixed(0)} ${profile.unit} ${what}\n\ntop ${top} self, all code:`)
  for (const f of functions.slice(0, top)) console.log(line(f))
  const ours = functions.filter((f) => f.ours)
  const oursTotal = ours.reduce((sum, f) => sum + f.cost, 0)
  console.log(`\nfastify-lolly's own code: ${((oursTotal / total) * 100).toFixed(2)}% self; top ${top}:`)
  for (const f of ours.slice(0, top)) console.log(line(f))
  console.log(`\nfastify-lolly's own functions with what they call (inclusive); top ${top}:`)
  for (const f of inclusiveCosts(profile).slice(0, top)) console.log(line(f))
}

main()
