/**
 * MurmurHash3 (x86, 32-bit) over a string's UTF-16 code units, two units per 32-bit block.
 *
 * Hash balancers run this once per request on the hash key, so it must be fast and allocation-free:
 * no TextEncoder, no crypto. Reading code units rather than UTF-8 bytes gives different values than
 * byte-oriented murmur3 implementations, which does not matter here: only the spread matters, and
 * the output is only ever compared with itself.
 */
export function hashString (text: string, seed = 0): number {
  let h = seed >>> 0
  const length = text.length
  const blocks = length & ~1
  for (let i = 0; i < blocks; i += 2) {
    let k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  if (blocks !== length) {
    let k = text.charCodeAt(blocks)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
  }
  return mix32(h ^ (length << 1))
}

/** murmur3's finaliser: a bijection on 32-bit integers in which every input bit flips about half the output bits. */
export function mix32 (value: number): number {
  let h = value
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
