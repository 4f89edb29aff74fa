import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import type { NormalizedAffinity } from '../options/affinity-options.js'

// A sticky cookie's value is `<id>.<expiry>.<sig>`:
// - id: base64url(HMAC(secret, 'id\0' + upstream + '\0' + url)) cut to 96 bits. It names the target
//   without revealing its address, and differs between upstreams, so one upstream's cookie is unknown
//   to another.
// - expiry: unix seconds after which it is refused, 0 for a session cookie. The browser's Max-Age is
//   only advice; a copied cookie is refused here.
// - sig: base64url(HMAC(secret, id + '.' + expiry)), in full.
const ID_LENGTH = 16
const SIG_LENGTH = 43
const MAX_VALUE = ID_LENGTH + 1 + 10 + 1 + SIG_LENGTH
// Checked before any HMAC, after a length test: garbage costs next to nothing.
const SHAPE = /^[\w-]{16}\.\d{1,10}\.[\w-]{43}$/
// Verified signatures remembered per upstream; past this many the memory starts over.
const MAX_VERIFIED = 1024

/** A target as one secret names it; for the first secret, also its last Set-Cookie. */
interface Known {
  readonly id: string
  expiry: number
  header: string
}

/** A signature that verified, by the text it signs. */
interface Verified {
  readonly slot: Slot
  readonly sig: Buffer
  /** The target its id names, once looked up: an id names one URL forever. */
  url: string | undefined
}

/** One secret and the ids of the targets under it. */
interface Slot {
  readonly key: KeyObject
  byId: Map<string, string>
  byUrl: Map<string, Known>
  /** The first secret's maps grow with issue(); past this size they are rebuilt, dropping removed targets. */
  bound: number
}

/**
 * Issues and verifies an upstream's sticky cookies (Caddy's `lb_policy cookie`, HAProxy's `cookie SRV
 * insert`), signed so a client can neither forge one nor learn a target's address from it.
 * `urls` lists the upstream's targets and is read only when an id is not cached yet; `has` tells
 * whether a target is still there, on every hit, so a removed target is never returned.
 */
export class AffinityCookie {
  private readonly upstream: string
  private readonly urls: () => Iterable<string>
  private readonly has: (url: string) => boolean
  private readonly slots: Slot[]
  /** `name=`, searched for in Cookie headers and written first in Set-Cookie. */
  private readonly prefix: string
  /** Every attribute: none depends on the request or the time. */
  private readonly attributes: string
  private readonly maxAge: number
  /**
   * A returning client sends the same cookie again and again: its signature, once verified (or
   * issued), is compared to the one remembered here instead of computing an HMAC (a few µs) per
   * request. Keyed by the signed text, which holds no secret; only a valid signature gets in.
   */
  private readonly verified = new Map<string, Verified>()
  /** The signature being checked: find() runs to its end before another starts, so one buffer serves. */
  private readonly sig = Buffer.alloc(SIG_LENGTH)
  /**
   * Whether the cookie the last find() accepted should be issued again with the answer: signed with
   * an older secret (so rotation moves clients on before the old secret goes), past half its life
   * (so an active session does not expire mid-way), or made under another maxAge.
   */
  renew = false

  constructor (settings: NormalizedAffinity, upstream: string, urls: () => Iterable<string>, has: (url: string) => boolean) {
    this.upstream = upstream
    this.urls = urls
    this.has = has
    this.slots = settings.secrets.map((secret) => ({ key: createSecretKey(Buffer.from(secret)), byId: new Map(), byUrl: new Map(), bound: 0 }))
    this.prefix = `${settings.name}=`
    this.maxAge = settings.maxAge
    this.attributes = `; Path=${settings.path}` +
      (settings.domain === null ? '' : `; Domain=${settings.domain}`) +
      (settings.maxAge === 0 ? '' : `; Max-Age=${settings.maxAge}`) +
      (settings.httpOnly ? '; HttpOnly' : '') +
      (settings.secure ? '; Secure' : '') +
      `; SameSite=${settings.sameSite}`
  }

  /**
   * The target URL a request's Cookie header points to, when it carries a valid, unexpired cookie of
   * ours for a target still there; undefined otherwise (absent, forged, tampered, expired, unknown:
   * never throws). `now` is ms since epoch.
   */
  find (cookieHeader: string | string[] | undefined, now: number): string | undefined {
    const value = this.valueIn(cookieHeader)
    if (value === undefined || value.length > MAX_VALUE || !SHAPE.test(value)) return undefined
    const dot = value.length - SIG_LENGTH - 1
    const signed = value.slice(0, dot)
    // Compared as text: base64url decoding ignores the last character's spare bits, so comparing
    // bytes would accept four spellings of one signature. SHAPE lets ASCII only through: a byte each.
    const sig = this.sig
    sig.write(value.slice(dot + 1), 'latin1')
    let seen = this.verified.get(signed)
    if (seen === undefined || !timingSafeEqual(seen.sig, sig)) {
      seen = this.verify(signed, sig)
      if (seen === undefined) return undefined
    }
    const expiry = Number(value.slice(ID_LENGTH + 1, dot))
    if (expiry !== 0 && expiry * 1000 <= now) return undefined
    const maxAge = this.maxAge
    this.renew = seen.slot !== this.slots[0] || (maxAge === 0 ? expiry !== 0 : expiry === 0 || expiry * 1000 - now < maxAge * 500 || expiry * 1000 - now > maxAge * 1000)
    if (seen.url === undefined) return (seen.url = this.lookup(seen.slot, value.slice(0, ID_LENGTH)))
    // Checked on every hit: a target removed since is never returned.
    return this.has(seen.url) ? seen.url : undefined
  }

  /** The Set-Cookie header value that sends a client to `url`, signed with the first secret. */
  issue (url: string, now: number): string {
    const expiry = this.maxAge === 0 ? 0 : Math.floor(now / 1000) + this.maxAge
    const first = this.slots[0]
    let known = first.byUrl.get(url)
    if (known === undefined) {
      known = { id: this.idOf(first.key, url), expiry: -1, header: '' }
      // Only a target of the upstream is remembered, so the maps hold what `urls` holds, plus the
      // targets removed since the last rebuild, up to `bound`.
      if (this.has(url)) {
        first.byUrl.set(url, known)
        first.byId.set(known.id, url)
        if (first.byUrl.size > first.bound) this.rebuild(first)
      }
    }
    // A session cookie's header never changes; a timed one changes once a second.
    if (known.expiry !== expiry) {
      const body = `${known.id}.${expiry}`
      const sig = sign(first.key, body)
      known.header = `${this.prefix}${body}.${sig}${this.attributes}`
      known.expiry = expiry
      this.remember(body, first, sig)
    }
    return known.header
  }

  /** Whether a secret signed `signed` as `sig`: an HMAC per secret tried. */
  private verify (signed: string, sig: Buffer): Verified | undefined {
    for (const slot of this.slots) {
      const expected = sign(slot.key, signed)
      if (timingSafeEqual(Buffer.from(expected, 'latin1'), sig)) return this.remember(signed, slot, expected)
    }
    return undefined
  }

  private remember (signed: string, slot: Slot, sig: string): Verified {
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear()
    const verified = { slot, sig: Buffer.from(sig, 'latin1'), url: undefined }
    this.verified.set(signed, verified)
    return verified
  }

  private lookup (slot: Slot, id: string): string | undefined {
    const url = slot.byId.get(id)
    // An id names one URL only: when that URL has left, no other target can be the one meant.
    if (url !== undefined) return this.has(url) ? url : undefined
    // Not seen yet (a cookie from before a restart, from another instance, or of an older secret), or
    // of a target removed since: recompute from the current targets, which only costs HMACs for new ones.
    this.rebuild(slot)
    return slot.byId.get(id)
  }

  private rebuild (slot: Slot): void {
    const byId = new Map<string, string>()
    const byUrl = new Map<string, Known>()
    for (const url of this.urls()) {
      const known = slot.byUrl.get(url) ?? { id: this.idOf(slot.key, url), expiry: -1, header: '' }
      byId.set(known.id, url)
      byUrl.set(url, known)
    }
    slot.byId = byId
    slot.byUrl = byUrl
    slot.bound = 2 * byUrl.size + 64
  }

  private idOf (key: KeyObject, url: string): string {
    return createHmac('sha256', key).update(`id\0${this.upstream}\0${url}`).digest('base64url').slice(0, ID_LENGTH)
  }

  /** Our cookie's value: the first pair named exactly so, in the first header line that has one. */
  private valueIn (header: string | string[] | undefined): string | undefined {
    if (typeof header === 'string') return valueOf(header, this.prefix)
    if (header === undefined) return undefined
    for (const line of header) {
      const value = valueOf(line, this.prefix)
      if (value !== undefined) return value
    }
    return undefined
  }
}

function sign (key: KeyObject, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url')
}

/**
 * The value of the first `name=value` pair whose name is `prefix` without its '='. A value holds no
 * ';', so a match at the start or after ';' and blanks is the start of a pair, never inside a value.
 */
function valueOf (header: string, prefix: string): string | undefined {
  let from = 0
  for (;;) {
    const at = header.indexOf(prefix, from)
    if (at === -1) return undefined
    from = at + 1
    let before = at - 1
    while (before >= 0 && isBlank(header.charCodeAt(before))) before--
    if (before !== -1 && header.charCodeAt(before) !== 0x3b) continue
    let end = header.indexOf(';', at)
    if (end === -1) end = header.length
    let start = at + prefix.length
    while (start < end && isBlank(header.charCodeAt(start))) start++
    while (end > start && isBlank(header.charCodeAt(end - 1))) end--
    return header.slice(start, end)
  }
}

function isBlank (code: number): boolean {
  return code === 0x20 || code === 0x09
}
