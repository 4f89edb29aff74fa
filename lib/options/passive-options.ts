import type { PassiveSettings } from './types.js'
import { invalid, join, pick, readSection, type Plain, type Section } from './option-reader.js'

/**
 * Passive health defaults, and why, against what nginx, Envoy and Caddy ship:
 *
 * - On by default. Caddy keeps passive checks off because with its max_fails=1 a single failure takes
 *   a host out for everyone; nginx and Envoy have them on. With 5 failures needed (below) one bad
 *   request cannot eject anything, and a pool without active checks still stops sending traffic to a
 *   dead target, which is the reason people put a balancer in front of several targets.
 * - maxFails 5, as Envoy's consecutive_5xx. nginx's max_fails=1 ejects on one dropped connection or
 *   one timeout, which on a busy pool means ejections for noise.
 * - failWindow 10 s, as nginx's fail_timeout: a sliding window (Caddy's fail_duration), so five
 *   failures spread over an hour never add up. Unlike Envoy's "consecutive", a target that fails
 *   every other request is still ejected: successes in between do not hide its failures.
 * - ejectTime 30 s and maxEjectTime 300 s, as Envoy: long enough that a crashed process is not hit
 *   again every few seconds, doubling (Envoy multiplies linearly; doubling reaches the cap in four
 *   ejections instead of ten) so a flapping target spends most of its time out, capped so a target
 *   that recovered is back within five minutes even without active checks.
 * - maxEjectedPercent 50: Envoy's 10 % (with "at least one host") lets small pools eject only one
 *   target, and a pool of 20 only two, so a real outage of three keeps getting traffic; nginx has no
 *   cap at all, so a bad deploy that answers 503 everywhere empties the pool. Half the pool bounds
 *   what passive health (which an attacker can trigger, see statuses) can take out.
 * - statuses 502, 503, 504: what nginx's proxy_next_upstream and Envoy's gateway errors count; these
 *   say "the target is broken or overloaded". 500 is left out by default because one URL that always
 *   throws (HAProxy users' warning) would let any client eject every target; add it if your targets
 *   only answer 500 when the whole process is sick.
 */
export const DEFAULT_PASSIVE: PassiveSettings = {
  maxFails: 5,
  failWindow: 10_000,
  ejectTime: 30_000,
  maxEjectTime: 300_000,
  maxEjectedPercent: 50,
  statuses: [502, 503, 504]
}

const PASSIVE: Section<PassiveSettings | false, PassiveSettings> = {
  off: () => false,
  on: (inherited) => inherited === false ? DEFAULT_PASSIVE : inherited,
  read (passive, where, base) {
    const ejectTime = pick(passive, 'ejectTime', base.ejectTime)
    const maxEjectTime = pick(passive, 'maxEjectTime', Math.max(base.maxEjectTime, ejectTime))
    if (maxEjectTime < ejectTime) {
      throw invalid(join(where, 'maxEjectTime'), `at least ejectTime (${ejectTime})`, maxEjectTime)
    }
    return {
      maxFails: pick(passive, 'maxFails', base.maxFails),
      failWindow: pick(passive, 'failWindow', base.failWindow),
      ejectTime,
      maxEjectTime,
      maxEjectedPercent: pick(passive, 'maxEjectedPercent', base.maxEjectedPercent),
      // Only 5xx, each once (the schema says which: a 4xx is the client's doing and never counts).
      statuses: passive.statuses === undefined ? base.statuses : [...new Set(passive.statuses as number[])]
    }
  }
}

/** Reads `passive` of one upstream over what it inherits (see readSection). */
export function readPassive (object: Plain, path: string, inherited: PassiveSettings | false): PassiveSettings | false {
  return readSection(object, 'passive', path, inherited, PASSIVE)
}
