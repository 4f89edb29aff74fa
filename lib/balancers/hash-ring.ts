import type { Target } from '../pool/target.js'
import { hashString, mix32 } from './string-hash.js'

// Virtual nodes per unit of weight: ketama's (and nginx's `hash ... consistent`) 160 points per
// weight unit, which keeps every target's share of the ring within a few percent of its weight.
const VNODES_PER_WEIGHT = 160
// Most points a ring holds: at most 2 MiB of points plus a 1 MiB lookup table per ring, about 10 ms
// to rebuild. Large tiers get fewer points per weight unit, halved step by step: 160 up to 1638 weight
// units, 80 up to 3276, 40 up to 6553, 20 up to 13107 (10000 targets of weight 1 get 20 points each).
// Halving rather than dividing exactly keeps the count constant while membership changes a little,
// and because a target's points are a prefix of one fixed sequence, the step that does happen keeps
// half of every target's points where they were.
const MAX_POINTS = 1 << 18
// Two independent hashes of the URL seed each target's sequence of points (double hashing).
const SEED_START = 0x6c6f6c6c
const SEED_STEP = 0x79686173

/**
 * A consistent-hash ring (ketama): every target owns points placed by hashing its URL, a key belongs
 * to the first point at or after its hash, clockwise. Points depend only on the URL and the
 * configured weight, not on the other targets (but for the rare halving step above), so when a
 * target leaves only the keys on its points move (about 1/n of them) and every other key stays where
 * it was. Not on the effective weight either: a target in slow start keeps its keys while it warms up
 * (its share is held back by the bounded-load walk instead), where a ring built from the ramp would
 * move them ten times per recovery.
 *
 * Lookup is a binary search in a sorted Uint32Array, narrowed first by a table indexed by the top
 * bits of the hash (about one point per bucket), so it touches two or three cache lines even on a
 * ring of 200 000 points.
 */
export class HashRing {
  /** Point hashes, ascending. */
  hashes = new Uint32Array(0)
  /** Tier position owning each point. */
  owners = new Int32Array(0)
  /** bucketStart[b] = first point whose hash's top bits are >= b. */
  private bucketStart = new Uint32Array(2)
  private bucketShift = 31
  /** The tier and weights the ring was built from: a rebuild with the same ones keeps it. */
  private builtFrom: readonly Target[] = []
  private builtWeights: readonly number[] = []

  rebuild (targets: readonly Target[]): void {
    if (this.isBuiltFrom(targets)) return
    this.builtFrom = targets.slice()
    this.builtWeights = targets.map((target) => target.weight)
    const n = targets.length
    let totalWeight = 0
    for (const target of targets) totalWeight += target.weight
    let perWeight = VNODES_PER_WEIGHT
    while (totalWeight * perWeight > MAX_POINTS) perWeight /= 2
    const counts = new Int32Array(n)
    let total = 0
    for (let i = 0; i < n; i++) {
      // At least one point: past the halving steps a light target would round to none.
      counts[i] = Math.max(1, Math.round(targets[i].weight * perWeight))
      total += counts[i]
    }

    const hashes = new Uint32Array(total)
    const owners = new Int32Array(total)
    let k = 0
    for (let i = 0; i < n; i++) {
      const start = hashString(targets[i].url, SEED_START)
      // Odd, so the first 2^32 points of one target are all distinct before mixing (and after: mix32 is a bijection).
      const step = hashString(targets[i].url, SEED_STEP) | 1
      for (let j = 0; j < counts[i]; j++) {
        hashes[k] = mix32(start + Math.imul(j, step))
        owners[k++] = i
      }
    }
    sortPoints(hashes, owners)
    this.hashes = hashes
    this.owners = owners
    this.buildBuckets()
  }

  private isBuiltFrom (targets: readonly Target[]): boolean {
    const built = this.builtFrom
    if (built.length !== targets.length) return false
    for (let i = 0; i < targets.length; i++) {
      if (built[i] !== targets[i] || this.builtWeights[i] !== targets[i].weight) return false
    }
    return true
  }

  /** The point a hash belongs to: the first at or after it, wrapping past the top. Ring must not be empty. */
  find (hash: number): number {
    const hashes = this.hashes
    const bucket = hash >>> this.bucketShift
    let low = this.bucketStart[bucket]
    let high = this.bucketStart[bucket + 1]
    while (low < high) {
      const middle = (low + high) >>> 1
      if (hashes[middle] < hash) low = middle + 1
      else high = middle
    }
    return low === hashes.length ? 0 : low
  }

  /** The point after `point`, clockwise. */
  next (point: number): number {
    return point + 1 === this.hashes.length ? 0 : point + 1
  }

  private buildBuckets (): void {
    const hashes = this.hashes
    const total = hashes.length
    // About one point per bucket: 2^bits >= points, at least 2 buckets (a shift of 32 would be 0 in JS).
    const bits = Math.max(1, Math.min(20, Math.ceil(Math.log2(total + 1))))
    const buckets = 2 ** bits
    const shift = 32 - bits
    const start = new Uint32Array(buckets + 1)
    // One pass over the points: every bucket up to a point's own starts at or before it.
    let bucket = 0
    for (let p = 0; p < total; p++) {
      const own = hashes[p] >>> shift
      while (bucket <= own) start[bucket++] = p
    }
    while (bucket <= buckets) start[bucket++] = total
    this.bucketStart = start
    this.bucketShift = shift
  }
}

/**
 * Sorts points by hash, carrying their owners along: an LSD radix sort in two passes of 16 bits. A
 * rebuild sorts up to 2^18 points, where this takes a few ms against tens of ms for a comparison
 * sort. It is stable, so two targets' points with the same hash stay in tier order (the earlier
 * declared target owns the point), which keeps the ring independent of anything but the targets.
 */
function sortPoints (hashes: Uint32Array<ArrayBuffer>, owners: Int32Array<ArrayBuffer>): void {
  const scratchHashes = new Uint32Array(hashes.length)
  const scratchOwners = new Int32Array(hashes.length)
  const counts = new Int32Array(1 << 16)
  radixPass(hashes, owners, scratchHashes, scratchOwners, 0, counts)
  radixPass(scratchHashes, scratchOwners, hashes, owners, 16, counts)
}

/** One stable counting-sort pass on the 16-bit digit at `shift`, from one pair of arrays into the other. */
function radixPass (fromHashes: Uint32Array, fromOwners: Int32Array, toHashes: Uint32Array, toOwners: Int32Array, shift: number, counts: Int32Array): void {
  const total = fromHashes.length
  counts.fill(0)
  for (let p = 0; p < total; p++) counts[(fromHashes[p] >>> shift) & 0xffff]++
  let sum = 0
  for (let digit = 0; digit < counts.length; digit++) {
    const count = counts[digit]
    counts[digit] = sum
    sum += count
  }
  for (let p = 0; p < total; p++) {
    const hash = fromHashes[p]
    const at = counts[(hash >>> shift) & 0xffff]++
    toHashes[at] = hash
    toOwners[at] = fromOwners[p]
  }
}
