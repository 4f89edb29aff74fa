import { test } from 'tap'
import { createHmac } from 'node:crypto'
import { AffinityCookie } from '../lib/affinity/affinity-cookie.js'
import type { NormalizedAffinity } from '../lib/options/affinity-options.js'

// The sticky cookie alone: what it issues, what it accepts, and what it refuses without throwing.

const SECRET = 'a-secret-of-sixteen+'
const OLD_SECRET = 'an-older-secret-still-accepted'
const NOW = 1_700_000_000_000
const A = 'http://10.0.0.1:8080'
const B = 'http://10.0.0.2:8080'

function settings (overrides: Partial<NormalizedAffinity> = {}): NormalizedAffinity {
  return { name: 'lolly', secrets: [SECRET], maxAge: 0, secure: false, httpOnly: true, sameSite: 'Lax', path: '/', domain: null, ...overrides }
}

/** A cookie over a mutable target set, counting how often it lists the targets. */
function cookieOf (overrides: Partial<NormalizedAffinity> = {}, targets = new Set([A, B]), upstream = 'api') {
  const counts = { urls: 0 }
  const cookie = new AffinityCookie(settings(overrides), upstream, () => { counts.urls++; return targets }, (url) => targets.has(url))
  return { cookie, targets, counts }
}

/** The `name=value` pair of a Set-Cookie header. */
function pair (setCookie: string): string {
  return setCookie.slice(0, setCookie.indexOf(';'))
}

function valueOf (setCookie: string): string {
  return pair(setCookie).slice(pair(setCookie).indexOf('=') + 1)
}

function hmac (secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('base64url')
}

test('a cookie it issues leads back to its target', async (t) => {
  const { cookie } = cookieOf()
  const a = cookie.issue(A, NOW)
  const b = cookie.issue(B, NOW)
  t.equal(cookie.find(pair(a), NOW), A)
  t.equal(cookie.find(pair(b), NOW), B)
  t.equal(cookie.find(pair(a), NOW + 365 * 86_400_000), A, 'a session cookie never expires')
  t.match(a, /^lolly=[A-Za-z0-9_-]{16}\.0\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/)
  t.equal(cookie.issue(A, NOW + 5000), a, 'a session cookie is the same every time')
})

test('the value is the documented HMACs and reveals no address', async (t) => {
  const { cookie } = cookieOf({ maxAge: 60 })
  const value = valueOf(cookie.issue(A, NOW + 999))
  const id = hmac(SECRET, `id\0api\0${A}`).slice(0, 16)
  const expiry = NOW / 1000 + 60
  t.equal(value, `${id}.${expiry}.${hmac(SECRET, `${id}.${expiry}`)}`)
  for (const part of ['10.0.0.1', '8080', 'http', '10-0-0-1']) t.notOk(value.includes(part), `no ${part} in it`)
})

test('attributes follow the settings', async (t) => {
  const { cookie } = cookieOf({ name: 'sticky', maxAge: 3600, secure: true, httpOnly: false, sameSite: 'None', path: '/app', domain: 'example.com' })
  t.match(cookie.issue(A, NOW), /^sticky=\S+; Path=\/app; Domain=example\.com; Max-Age=3600; Secure; SameSite=None$/)
})

test('a timed cookie expires at its expiry, and is issued anew each second', async (t) => {
  const { cookie } = cookieOf({ maxAge: 10 })
  const first = cookie.issue(A, NOW)
  t.equal(cookie.issue(A, NOW + 999), first, 'the same second gives the same header')
  const later = cookie.issue(A, NOW + 1000)
  t.not(later, first)
  t.equal(cookie.find(pair(first), NOW + 9999), A)
  t.equal(cookie.find(pair(first), NOW + 10_000), undefined, 'expired at expiry * 1000')
  t.equal(cookie.find(pair(later), NOW + 10_000), A)
})

test('verified signatures are remembered, within a bound', async (t) => {
  const { cookie } = cookieOf({ maxAge: 10 })
  const other = cookieOf({ maxAge: 10 }).cookie
  const first = pair(other.issue(A, NOW))
  t.equal(cookie.find(first, NOW), A, 'verified by HMAC')
  t.equal(cookie.find(first, NOW), A, 'then remembered')
  t.equal(cookie.find(first, NOW + 10_000), undefined, 'a remembered one still expires')
  // Many cookies (a timed cookie is issued anew each second): the memory starts over rather than grow.
  for (let i = 1; i <= 1100; i++) cookie.issue(A, NOW + i * 1000)
  t.equal(cookie.find(first, NOW), A, 'verified again once forgotten')
})

test('tampered, forged and unknown-secret cookies are refused', async (t) => {
  const { cookie } = cookieOf({ maxAge: 10 })
  const value = valueOf(cookie.issue(A, NOW))
  const [id, expiry, sig] = value.split('.') as [string, string, string]
  const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1)
  t.equal(cookie.find(`lolly=${flip(id, 3)}.${expiry}.${sig}`, NOW), undefined, 'id')
  t.equal(cookie.find(`lolly=${id}.${Number(expiry) + 1000}.${sig}`, NOW), undefined, 'expiry')
  t.equal(cookie.find(`lolly=${id}.0.${sig}`, NOW), undefined, 'expiry dropped')
  t.equal(cookie.find(`lolly=${id}.${expiry}.${flip(sig, 10)}`, NOW), undefined, 'sig')
  // The last character of a 43-character base64url signature has 2 spare bits: another spelling of it
  // decodes to the same bytes, and is still refused.
  const last = sig.at(-1)!
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const twin = alphabet[alphabet.indexOf(last) ^ 1]!
  t.same(Buffer.from(sig.slice(0, -1) + twin, 'base64url'), Buffer.from(sig, 'base64url'))
  t.equal(cookie.find(`lolly=${id}.${expiry}.${sig.slice(0, -1)}${twin}`, NOW), undefined, 'another spelling of the sig')

  const other = cookieOf({ secrets: ['some-other-secret-entirely'] }).cookie
  t.equal(cookie.find(pair(other.issue(A, NOW)), NOW), undefined, 'signed with a secret it does not know')
  const forged = `${id}.0`
  t.equal(cookie.find(`lolly=${forged}.${hmac('guessed-secret-value', forged)}`, NOW), undefined, 'forged')
})

test('rotation: the first secret signs, every secret verifies', async (t) => {
  const old = cookieOf({ secrets: [OLD_SECRET] }).cookie
  const { cookie } = cookieOf({ secrets: [SECRET, OLD_SECRET] })
  const before = pair(old.issue(B, NOW))
  t.equal(cookie.find(before, NOW), B, 'a cookie of the old secret still verifies')
  const issued = pair(cookie.issue(B, NOW))
  t.not(issued, before, 'a new cookie is signed with the first secret')
  t.equal(cookieOf().cookie.find(issued, NOW), B, 'which a cookie with only the new secret accepts')
  t.equal(old.find(issued, NOW), undefined)
  const expired = cookieOf({ secrets: [OLD_SECRET], maxAge: 1 }).cookie.issue(B, NOW)
  t.equal(cookie.find(pair(expired), NOW + 1000), undefined, 'an expired cookie of the old secret')
})

test('a target removed since is never returned; one added later is found', async (t) => {
  const { cookie, targets, counts } = cookieOf()
  const a = pair(cookie.issue(A, NOW))
  t.equal(cookie.find(a, NOW), A)
  targets.delete(A)
  t.equal(cookie.find(a, NOW), undefined, 'removed: cached, but no longer there')
  targets.add(A)
  t.equal(cookie.find(a, NOW), A, 'back again')

  // Removed, and a cookie seen for the first time (issued by another instance, a second later).
  const timed = cookieOf({ maxAge: 10 })
  timed.cookie.issue(A, NOW)
  timed.targets.delete(A)
  const fromElsewhere = pair(cookieOf({ maxAge: 10 }).cookie.issue(A, NOW + 1000))
  t.equal(timed.cookie.find(fromElsewhere, NOW), undefined)
  timed.targets.add(A)
  t.equal(timed.cookie.find(fromElsewhere, NOW), A)

  // A cookie from another instance, for a target this one has not issued for yet.
  const C = 'http://10.0.0.3:8080'
  const c = pair(cookieOf({}, new Set([C])).cookie.issue(C, NOW))
  t.equal(cookie.find(c, NOW), undefined, 'not a target')
  const listed = counts.urls
  targets.add(C)
  t.equal(cookie.find(c, NOW), C, 'a target now: found by rebuilding the ids')
  t.equal(counts.urls, listed + 1)
  t.equal(cookie.find(c, NOW), C)
  t.equal(counts.urls, listed + 1, 'a hit does not list the targets')
  targets.delete(C)
  const fresh = cookieOf({}, new Set()).cookie
  t.equal(fresh.find(c, NOW), undefined, 'a cold cache checks the current targets')
})

test('ids are cached: issuing and finding do not list the targets each time', async (t) => {
  const { cookie, targets, counts } = cookieOf()
  const a = pair(cookie.issue(A, NOW))
  const listed = counts.urls
  for (let i = 0; i < 10; i++) {
    cookie.issue(A, NOW)
    cookie.issue(B, NOW)
    t.equal(cookie.find(a, NOW), A)
  }
  t.equal(counts.urls, listed)

  // A URL that is not a target gets a valid cookie, but is not remembered.
  const stray = 'http://10.9.9.9:1'
  const strayCookie = cookie.issue(stray, NOW)
  t.equal(cookie.issue(stray, NOW), strayCookie)
  t.equal(cookie.find(pair(strayCookie), NOW), undefined)
  targets.add(stray)
  t.equal(cookie.find(pair(strayCookie), NOW), stray)

  // Targets that come and go (discovery) do not grow the cache without bound: past twice the targets
  // (plus some slack) it is rebuilt from the current ones.
  const churn = cookieOf({}, new Set([A]))
  churn.cookie.issue(A, NOW)
  const start = churn.counts.urls
  for (let i = 0; i < 200; i++) {
    const url = `http://10.1.${i >> 8}.${i & 255}:80`
    churn.targets.add(url)
    churn.cookie.issue(url, NOW)
    churn.targets.delete(url)
  }
  t.ok(churn.counts.urls > start, 'rebuilt along the way')
  t.ok(churn.counts.urls < start + 10, 'but rarely')
  t.equal(churn.cookie.find(pair(churn.cookie.issue(A, NOW)), NOW), A)
})

test('a cookie of another upstream is unknown', async (t) => {
  const api = cookieOf({}, new Set([A]), 'api').cookie
  const auth = cookieOf({}, new Set([A]), 'auth').cookie
  const fromApi = pair(api.issue(A, NOW))
  t.not(fromApi, pair(auth.issue(A, NOW)))
  t.equal(auth.find(fromApi, NOW), undefined)
  t.equal(api.find(fromApi, NOW), A)
})

test('only the first pair with our exact name counts, in strings and arrays', async (t) => {
  const { cookie } = cookieOf()
  const a = valueOf(cookie.issue(A, NOW))
  const b = valueOf(cookie.issue(B, NOW))
  t.equal(cookie.find(undefined, NOW), undefined)
  t.equal(cookie.find('', NOW), undefined)
  t.equal(cookie.find([], NOW), undefined)
  t.equal(cookie.find('a=1; b=2', NOW), undefined)
  t.equal(cookie.find(`a=1; lolly=${a}; b=2`, NOW), A)
  t.equal(cookie.find(`a=1;lolly=${a};b=2`, NOW), A, 'no blanks')
  t.equal(cookie.find(`a=1;  \tlolly=  ${a}  ; b=2`, NOW), A, 'blanks around the value')
  t.equal(cookie.find(`lolly=${a}; lolly=${b}`, NOW), A, 'the first of two')
  t.equal(cookie.find(`lolly=garbage; lolly=${b}`, NOW), undefined, 'the first only, even when bad')
  t.equal(cookie.find(`xlolly=${b}; a=lolly=${b}; lolly=${a}`, NOW), A, 'other names that end in ours, and ours inside a value')
  t.equal(cookie.find(`lolly; x; =; lolly =${b}; Lolly=${b}; lolly=${a}`, NOW), A, 'malformed pairs and other spellings are skipped')
  t.equal(cookie.find(['a=1', `b=2; lolly=${b}`, `lolly=${a}`], NOW), B, 'the first header line that has one')
  t.equal(cookie.find(['a=1', 'b=2'], NOW), undefined)
  t.equal(cookie.find(`lolly=${a}`, NOW), A)
})

test('garbage is refused cheaply and never throws', async (t) => {
  const { cookie } = cookieOf({ maxAge: 10 })
  const value = valueOf(cookie.issue(A, NOW))
  const [id, expiry, sig] = value.split('.') as [string, string, string]
  const bad = [
    'lolly=',
    'lolly=x',
    `lolly=${'x'.repeat(4096)}`,
    `lolly=${value}x`,
    `lolly=${value.slice(1)}`,
    `lolly=${id}x${expiry}.${sig}`,
    `lolly=${id}.${expiry}x${sig}`,
    `lolly=${id}.${expiry.slice(0, 3)}a${expiry.slice(4)}.${sig}`,
    `lolly=${id.slice(0, 5)}+${id.slice(6)}.${expiry}.${sig}`,
    `lolly=${id}.${expiry}.${sig.slice(0, 5)}=${sig.slice(6)}`,
    `lolly=${id.slice(0, 5)}é${id.slice(6)}.${expiry}.${sig}`,
    `lolly=${id}.${expiry}.${sig.slice(0, 5)}\u0141${sig.slice(6)}`,
    `lolly=${id}..${sig}`,
    `lolly=${id}.12345678901.${sig}`,
    `lolly="${value}"`
  ]
  for (const header of bad) t.equal(cookie.find(header, NOW), undefined, header.slice(0, 80))
  t.equal(cookie.find(`lolly=${value}`, NOW), A, 'the good one still works')

  const garbage = `lolly=${'x'.repeat(4096)}`
  const loops = 2000
  const time = (header: string) => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < loops; i++) cookie.find(header, NOW)
    return Number(process.hrtime.bigint() - start) / loops
  }
  time(garbage)
  time(`lolly=${value}`)
  const cheap = time(garbage)
  const full = time(`lolly=${value}`)
  t.ok(cheap < full, `a 4 KiB garbage value (${cheap.toFixed(0)} ns) costs less than a valid cookie (${full.toFixed(0)} ns)`)
})

test('renew says when an accepted cookie should be issued again: an older secret, past half its life, or another maxAge', async (t) => {
  const timed = cookieOf({ maxAge: 100 }).cookie
  const fresh = pair(timed.issue(A, NOW))
  t.equal(timed.find(fresh, NOW + 10_000), A)
  t.equal(timed.renew, false, 'young, first secret')
  t.equal(timed.find(fresh, NOW + 60_000), A)
  t.equal(timed.renew, true, 'past half of its life')

  const rotated = cookieOf({ secrets: [SECRET, OLD_SECRET] }).cookie
  const old = pair(cookieOf({ secrets: [OLD_SECRET] }).cookie.issue(A, NOW))
  t.equal(rotated.find(old, NOW), A)
  t.equal(rotated.renew, true, 'signed with an older secret')

  const session = pair(cookieOf().cookie.issue(A, NOW))
  t.equal(timed.find(session, NOW), A)
  t.equal(timed.renew, true, 'a session cookie where cookies now last maxAge')
  const sessionNow = cookieOf().cookie
  t.equal(sessionNow.find(fresh, NOW), A)
  t.equal(sessionNow.renew, true, 'a timed cookie where cookies are now session ones')
  const shorter = cookieOf({ maxAge: 10 }).cookie
  t.equal(shorter.find(fresh, NOW), A)
  t.equal(shorter.renew, true, 'made to last longer than maxAge now allows')
})
