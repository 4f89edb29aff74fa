// A target's Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date. @fastify/reply-from reads
// the number as milliseconds; a 503 saying "Retry-After: 2" means two seconds.

const DELAY_SECONDS = /^\s*(\d+)\s*$/

/**
 * When (ms since the epoch) a target that answered 503 with `value` may be picked again, capped at
 * `now + max`; undefined when the header is absent or unreadable.
 */
export function retryAfterUntil (value: string | undefined, now: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const seconds = DELAY_SECONDS.exec(value)
  const until = seconds !== null ? now + Number(seconds[1]) * 1000 : Date.parse(value)
  if (Number.isNaN(until) || until <= now) return undefined
  return Math.min(until, now + max)
}

/** The Retry-After value among undici's raw headers ([name, value, name, value, ...]). */
export function findRetryAfter (rawHeaders: Buffer[] | string[]): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    if (name.length === 11 && name.toString().toLowerCase() === 'retry-after') return rawHeaders[i + 1].toString()
  }
  return undefined
}

/** For an answer with `statusCode`: until when its target is held off (a 503's Retry-After, capped at `max`); undefined when it is not. */
export function holdOffUntil (statusCode: number, rawHeaders: Buffer[], max: number): number | undefined {
  return statusCode === 503 && max > 0 ? retryAfterUntil(findRetryAfter(rawHeaders), Date.now(), max) : undefined
}
