import type { Target } from '../pool/target.js'

// The inverse weight of a weightless target: it counts as a weight of one in a million.
const MAX_INVERSE_WEIGHT = 1e6

/**
 * 1 / effectiveWeight per tier position, so load-aware picks multiply instead of divide. A weight
 * that is not a positive number counts as tiny rather than breaking the arithmetic with Infinity/NaN.
 */
export function inverseWeights (targets: readonly Target[]): Float64Array<ArrayBuffer> {
  const inverse = new Float64Array(targets.length)
  for (let i = 0; i < targets.length; i++) {
    const weight = targets[i].effectiveWeight
    inverse[i] = weight > 0 && Number.isFinite(weight) ? 1 / weight : MAX_INVERSE_WEIGHT
  }
  return inverse
}
