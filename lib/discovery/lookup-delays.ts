import type { NormalizedResolver } from '../options/types.js'

// Up to this share is taken off every wait, so gateways that started together do not query (or
// retry) in lockstep.
const JITTER = 0.1

/** When to look a name up again after a good answer: its TTL within [minInterval, maxInterval], jittered. */
export function afterAnswer (ttlSeconds: number, settings: NormalizedResolver, random: number): number {
  return jittered(Math.min(settings.maxInterval, Math.max(settings.minInterval, ttlSeconds * 1000)), settings.minInterval, random)
}

/** The wait before try `streak` + 1 of a failing source: minInterval doubled per failure, up to maxInterval. */
export function afterFailure (streak: number, settings: NormalizedResolver, random: number): number {
  const wanted = settings.minInterval * 2 ** Math.min(streak - 1, 30)
  return jittered(Math.min(settings.maxInterval, wanted), settings.minInterval, random)
}

function jittered (ms: number, floor: number, random: number): number {
  return Math.max(floor, Math.round(ms * (1 - JITTER * random)))
}
