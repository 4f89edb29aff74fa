import { InvalidOptionError } from '../errors.js'
import { invalid, join, pick, type Plain } from './option-reader.js'

/** Session affinity through a cookie the proxy issues (`affinity: { cookie: { secret } }`, or `false`). */
export interface AffinityOptions {
  cookie: {
    /** Cookie name, an RFC 6265 token. Default 'lolly'. */
    name?: string
    /** HMAC key of at least 16 characters, or several for rotation: the first signs, all verify. Required. */
    secret: string | string[]
    /** Lifetime in seconds, at most 400 days; 0 = a session cookie. Default 0. */
    maxAge?: number
    /** Default false. */
    secure?: boolean
    /** Default true. */
    httpOnly?: boolean
    /** Default 'Lax'; 'None' needs `secure: true`. */
    sameSite?: 'Strict' | 'Lax' | 'None'
    /** Default '/'. */
    path?: string
    /** Default none: the cookie goes back to the host that set it only. */
    domain?: string | null
  }
}

export interface NormalizedAffinity {
  name: string
  /** First signs, all verify. */
  secrets: string[]
  /** Seconds; 0 = session cookie. */
  maxAge: number
  secure: boolean
  httpOnly: boolean
  sameSite: 'Strict' | 'Lax' | 'None'
  path: string
  domain: string | null
}

const MIN_SECRET = 16 // below this an HMAC key is guessable offline from one cookie
const DEFAULTS: Omit<NormalizedAffinity, 'secrets'> = {
  name: 'lolly',
  maxAge: 0,
  secure: false,
  httpOnly: true,
  sameSite: 'Lax',
  path: '/',
  domain: null
}

/**
 * Reads `affinity` of `object` (the top level, a named upstream): absent keeps `inherited`, `false`
 * turns it off, and an object's `cookie` keys are read over the inherited cookie (so an upstream may
 * change only its name and keep the top-level secret), or over the defaults when none is inherited.
 */
export function readAffinity (object: Plain, path: string, inherited: NormalizedAffinity | null): NormalizedAffinity | null {
  const value = object.affinity
  if (value === undefined) return inherited
  if (value === false) return null
  const where = join(path, 'affinity')
  const cookieOptions = (value as Plain).cookie as Plain | undefined
  if (cookieOptions === undefined && inherited !== null) return inherited
  return readCookie(cookieOptions, join(where, 'cookie'), inherited)
}

function readCookie (value: Plain | undefined, where: string, base: NormalizedAffinity | null): NormalizedAffinity {
  // `affinity: {}` with nothing inherited: the secret is missing.
  if (value === undefined) throw invalid(where, 'an object ({ secret, ... })', value)
  const from = base ?? DEFAULTS
  const cookie: NormalizedAffinity = {
    name: pick(value, 'name', from.name),
    secrets: value.secret === undefined && base !== null ? base.secrets : readSecrets(value.secret, join(where, 'secret')),
    maxAge: pick(value, 'maxAge', from.maxAge),
    secure: pick(value, 'secure', from.secure),
    httpOnly: pick(value, 'httpOnly', from.httpOnly),
    sameSite: pick(value, 'sameSite', from.sameSite),
    path: pick(value, 'path', from.path),
    domain: pick(value, 'domain', from.domain)
  }
  checkBrowserRules(cookie, value, where)
  return cookie
}

/** Combinations browsers silently drop: refused here, so sticky sessions do not quietly stop working. */
function checkBrowserRules (cookie: NormalizedAffinity, own: Plain, where: string): void {
  if (cookie.sameSite === 'None' && !cookie.secure) {
    // Name the key this object set: the other one may be inherited.
    if (own.sameSite === undefined) throw invalid(join(where, 'secure'), "true when sameSite is 'None' (browsers drop a SameSite=None cookie without Secure)", own.secure)
    throw invalid(join(where, 'sameSite'), "'Strict' or 'Lax' unless secure is true (browsers drop a SameSite=None cookie without Secure)", cookie.sameSite)
  }
  const name = cookie.name.toLowerCase()
  if (name.startsWith('__secure-') && !cookie.secure) {
    throw invalid(join(where, 'name'), 'a name without the __Secure- prefix unless secure is true (browsers drop it otherwise)', cookie.name)
  }
  if (name.startsWith('__host-') && (!cookie.secure || cookie.path !== '/' || cookie.domain !== null)) {
    throw invalid(join(where, 'name'), "a name without the __Host- prefix unless secure is true, path is '/' and domain is unset (browsers drop it otherwise)", cookie.name)
  }
}

// The errors below describe a secret by its type and length only: option errors end up in logs.
function readSecrets (value: unknown, path: string): string[] {
  if (typeof value === 'string') return [checkSecret(value, path)]
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidOptionError(`${path} must be a string of at least ${MIN_SECRET} characters or a non-empty array of them (got ${describe(value)})`)
  }
  return value.map((secret: unknown, i) => checkSecret(secret, `${path}[${i}]`))
}

function checkSecret (value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length < MIN_SECRET) {
    throw new InvalidOptionError(`${path} must be a string of at least ${MIN_SECRET} characters (got ${describe(value)})`)
  }
  return value
}

function describe (value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length}`
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : `an array of ${value.length}`
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`
}
