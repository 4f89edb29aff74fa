import { InvalidOptionError } from '../errors.js'
import { TOKEN } from '../http/header-names.js'
import { checkKeys, invalid, isPlainObject, join, readBoolean, readChoice, type Plain } from './option-reader.js'

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

const AFFINITY_KEYS = ['cookie']
const COOKIE_KEYS = ['name', 'secret', 'maxAge', 'secure', 'sameSite', 'httpOnly', 'path', 'domain']
const SAME_SITE = ['Strict', 'Lax', 'None'] as const
// RFC 6265bis caps Max-Age at 400 days; browsers clamp anything longer, so a longer one is a mistake.
const MAX_AGE = 400 * 24 * 3600
const MIN_SECRET = 16 // below this an HMAC key is guessable offline from one cookie
// RFC 6265 path-value: any CHAR but CTLs and ';' (the attribute separator).
const COOKIE_PATH = /^\/[\x20-\x3a\x3c-\x7e]*$/
// A host name or an IP: a port, scheme or path here makes browsers drop the cookie.
const COOKIE_DOMAIN = /^\.?[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$/

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
  if (!isPlainObject(value)) throw invalid(where, 'false or an object ({ cookie: { secret, ... } })', value)
  checkKeys(value, AFFINITY_KEYS, where)
  if (value.cookie === undefined && inherited !== null) return inherited
  return readCookie(value.cookie, join(where, 'cookie'), inherited)
}

function readCookie (value: unknown, where: string, base: NormalizedAffinity | null): NormalizedAffinity {
  if (!isPlainObject(value)) throw invalid(where, 'an object ({ secret, ... })', value)
  checkKeys(value, COOKIE_KEYS, where)
  const from = base ?? DEFAULTS
  const cookie: NormalizedAffinity = {
    name: readPattern(value, 'name', where, from.name, TOKEN, "a cookie name (letters, digits and !#$%&'*+-.^_`|~)"),
    secrets: value.secret === undefined && base !== null ? base.secrets : readSecrets(value.secret, join(where, 'secret')),
    maxAge: readMaxAge(value, where, from.maxAge),
    secure: readBoolean(value, 'secure', where, from.secure),
    httpOnly: readBoolean(value, 'httpOnly', where, from.httpOnly),
    sameSite: readChoice(value, 'sameSite', where, SAME_SITE, from.sameSite),
    path: readPattern(value, 'path', where, from.path, COOKIE_PATH, "a path starting with '/' (printable ASCII, no ';')"),
    domain: value.domain === null ? null : readPattern(value, 'domain', where, from.domain, COOKIE_DOMAIN, "a domain such as 'example.com' (no port, scheme or path), or null")
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

function readPattern<T extends string | null> (object: Plain, key: string, path: string, fallback: T, pattern: RegExp, expectation: string): string | T {
  const value = object[key]
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(join(path, key), expectation, value)
  return value
}

function readMaxAge (object: Plain, path: string, fallback: number): number {
  const value = object.maxAge
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_AGE) {
    throw invalid(join(path, 'maxAge'), `a number of seconds from 0 (a session cookie) to ${MAX_AGE} (400 days)`, value)
  }
  return value
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
