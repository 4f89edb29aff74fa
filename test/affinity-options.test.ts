import { test } from 'tap'
import { readAffinity, type NormalizedAffinity } from '../lib/options/affinity-options.js'
import { readPluginOptions } from '../lib/options/plugin-options.js'

// `affinity` of the top level or of an upstream: read once, into one normalised form.

const SECRET = 'a-secret-of-sixteen+'
const OTHER = 'another-secret-for-rotation'
const DEFAULTS = { name: 'lolly', secrets: [SECRET], maxAge: 0, secure: false, httpOnly: true, sameSite: 'Lax', path: '/', domain: null }

function read (cookie: unknown, inherited: NormalizedAffinity | null = null, path = ''): NormalizedAffinity | null {
  return readAffinity({ affinity: { cookie } }, path, inherited)
}

/** The error of `affinity` at the top level or in upstream `api`: through the options' schema, or (given what it inherits) the reader alone. */
function errorOf (affinity: unknown, path = '', inherited: NormalizedAffinity | null = null): Error & { code?: string } {
  const targets = ['http://127.0.0.1:1']
  try {
    if (inherited !== null) readAffinity({ affinity }, path, inherited)
    else readPluginOptions(path === '' ? { targets, affinity } : { upstreams: { api: { targets, affinity } } })
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('no error')
}

test('defaults, and every key set', async (t) => {
  t.same(read({ secret: SECRET }), DEFAULTS)
  t.same(read({
    name: '__Host-sticky', secret: [SECRET, OTHER], maxAge: 34_560_000, secure: true, httpOnly: false, sameSite: 'None', path: '/', domain: null
  }), { name: '__Host-sticky', secrets: [SECRET, OTHER], maxAge: 34_560_000, secure: true, httpOnly: false, sameSite: 'None', path: '/', domain: null })
  t.same(read({ secret: SECRET, name: '__Secure-x', secure: true, sameSite: 'Strict', path: '/app/v1', domain: '.example.com' }),
    { ...DEFAULTS, name: '__Secure-x', secure: true, sameSite: 'Strict', path: '/app/v1', domain: '.example.com' })
  t.same(read({ secret: SECRET, domain: '10.0.0.1', maxAge: 0 }), { ...DEFAULTS, domain: '10.0.0.1' })
  const secrets = [SECRET]
  t.not(read({ secret: secrets })!.secrets, secrets, 'the array is copied')
})

test('absent inherits, false turns it off, an object is read over what it inherits', async (t) => {
  const top = read({ secret: SECRET, maxAge: 60, domain: 'example.com' })!
  t.equal(readAffinity({}, 'upstreams.api', top), top)
  t.equal(readAffinity({}, '', null), null)
  t.equal(readAffinity({ affinity: false }, 'upstreams.api', top), null)
  t.equal(readAffinity({ affinity: {} }, 'upstreams.api', top), top, 'no cookie: the inherited one')
  t.same(read({ name: 'api' }, top), { ...top, name: 'api' }, 'an upstream may change its name only and keep the secret')
  t.same(read({ secret: OTHER, domain: null }, top), { ...top, secrets: [OTHER], domain: null })
})

test('bad affinity options fail with the exact path and value', async (t) => {
  const cases: Array<[unknown, string | RegExp, string?]> = [
    [true, 'affinity must be false or an object ({ cookie: { secret, ... } }), got true'],
    ['cookie', "upstreams.api.affinity must be false or an object ({ cookie: { secret, ... } }), got 'cookie'", 'upstreams.api'],
    [{ cookies: {} }, /^affinity\.cookies is not a known option \(known: cookie\)/],
    [{}, 'affinity.cookie must be an object ({ secret, ... }), got undefined'],
    [{ cookie: null }, 'affinity.cookie must be an object ({ secret, ... }), got null'],
    [{ cookie: { secret: SECRET, maxage: 1 } }, /^affinity\.cookie\.maxage is not a known option \(known: name, secret, maxAge/],
    [{ cookie: { secret: SECRET, name: 'a b' } }, "affinity.cookie.name must be a cookie name (letters, digits and !#$%&'*+-.^_`|~), got 'a b'"],
    [{ cookie: { secret: SECRET, name: '' } }, /^affinity\.cookie\.name must be a cookie name .*, got ''$/],
    [{ cookie: { secret: SECRET, name: 'a=b' } }, /^affinity\.cookie\.name must be a cookie name/],
    [{ cookie: { secret: SECRET, name: 'a;b' } }, /^affinity\.cookie\.name must be a cookie name/],
    [{ cookie: { secret: SECRET, name: 'a\nb' } }, /^affinity\.cookie\.name must be a cookie name/],
    [{ cookie: { secret: SECRET, name: 'a(b)' } }, /^affinity\.cookie\.name must be a cookie name/],
    [{ cookie: { secret: SECRET, name: 7 } }, /^affinity\.cookie\.name must be a cookie name .*, got 7$/],
    [{ cookie: { secret: SECRET, maxAge: -1 } }, 'affinity.cookie.maxAge must be a number of seconds from 0 (a session cookie) to 34560000 (400 days), got -1'],
    [{ cookie: { secret: SECRET, maxAge: 34_560_001 } }, /^affinity\.cookie\.maxAge must be .*, got 34560001$/],
    [{ cookie: { secret: SECRET, maxAge: 1.5 } }, /^affinity\.cookie\.maxAge must be .*, got 1\.5$/],
    [{ cookie: { secret: SECRET, maxAge: '60' } }, /^affinity\.cookie\.maxAge must be .*, got '60'$/],
    [{ cookie: { secret: SECRET, secure: 'yes' } }, "affinity.cookie.secure must be a boolean, got 'yes'"],
    [{ cookie: { secret: SECRET, httpOnly: 1 } }, 'affinity.cookie.httpOnly must be a boolean, got 1'],
    [{ cookie: { secret: SECRET, sameSite: 'lax' } }, "affinity.cookie.sameSite must be one of 'Strict', 'Lax', 'None', got 'lax'"],
    [{ cookie: { secret: SECRET, sameSite: 'None' } }, "affinity.cookie.sameSite must be 'Strict' or 'Lax' unless secure is true (browsers drop a SameSite=None cookie without Secure), got 'None'"],
    [{ cookie: { secret: SECRET, sameSite: 'None', secure: false } }, /^affinity\.cookie\.sameSite must be 'Strict' or 'Lax' unless secure is true/],
    [{ cookie: { secret: SECRET, path: 'app' } }, "affinity.cookie.path must be a path starting with '/' (printable ASCII, no ';'), got 'app'"],
    [{ cookie: { secret: SECRET, path: '/a;b' } }, /^affinity\.cookie\.path must be a path/],
    [{ cookie: { secret: SECRET, path: '/a\rb' } }, /^affinity\.cookie\.path must be a path/],
    [{ cookie: { secret: SECRET, path: '/é' } }, /^affinity\.cookie\.path must be a path/],
    [{ cookie: { secret: SECRET, path: null } }, /^affinity\.cookie\.path must be a path .*, got null$/],
    [{ cookie: { secret: SECRET, domain: '' } }, "affinity.cookie.domain must be a domain such as 'example.com' (no port, scheme or path), or null, got ''"],
    [{ cookie: { secret: SECRET, domain: 'example.com:8080' } }, /^affinity\.cookie\.domain must be a domain/],
    [{ cookie: { secret: SECRET, domain: 'a b.com' } }, /^affinity\.cookie\.domain must be a domain/],
    [{ cookie: { secret: SECRET, domain: 'a.com;x' } }, /^affinity\.cookie\.domain must be a domain/],
    [{ cookie: { secret: SECRET, domain: 'https://a.com' } }, /^affinity\.cookie\.domain must be a domain/],
    [{ cookie: { secret: SECRET, domain: 'a..com' } }, /^affinity\.cookie\.domain must be a domain/],
    [{ cookie: { secret: SECRET, domain: 3 } }, /^affinity\.cookie\.domain must be a domain .*, got 3$/],
    [{ cookie: { secret: SECRET, name: '__Secure-x' } }, "affinity.cookie.name must be a name without the __Secure- prefix unless secure is true (browsers drop it otherwise), got '__Secure-x'"],
    [{ cookie: { secret: SECRET, name: '__secure-x' } }, /^affinity\.cookie\.name must be a name without the __Secure- prefix/],
    [{ cookie: { secret: SECRET, name: '__Host-x' } }, "affinity.cookie.name must be a name without the __Host- prefix unless secure is true, path is '/' and domain is unset (browsers drop it otherwise), got '__Host-x'"],
    [{ cookie: { secret: SECRET, name: '__Host-x', secure: true, path: '/a' } }, /^affinity\.cookie\.name must be a name without the __Host- prefix/],
    [{ cookie: { secret: SECRET, name: '__Host-x', secure: true, domain: 'a.com' } }, /^affinity\.cookie\.name must be a name without the __Host- prefix/],
    [{ cookie: { secret: SECRET, path: '/', maxAge: 1, name: 'x', unknown: 1 } }, /^upstreams\.api\.affinity\.cookie\.unknown is not a known option/, 'upstreams.api']
  ]
  for (const [affinity, message, path] of cases) {
    const err = errorOf(affinity, path)
    t.equal(err.code, 'FST_LOLLY_INVALID_OPTION')
    if (typeof message === 'string') t.equal(err.message, message)
    else t.match(err.message, message)
  }
})

test('secret errors say what is wrong without showing the secret', async (t) => {
  const cases: Array<[unknown, string]> = [
    [undefined, 'affinity.cookie.secret must be a string of at least 16 characters or a non-empty array of them (got nothing)'],
    ['hunter2', 'affinity.cookie.secret must be a string of at least 16 characters (got a string of 7)'],
    ['', 'affinity.cookie.secret must be a string of at least 16 characters (got a string of 0)'],
    [[], 'affinity.cookie.secret must be a string of at least 16 characters or a non-empty array of them (got an empty array)'],
    [null, 'affinity.cookie.secret must be a string of at least 16 characters or a non-empty array of them (got null)'],
    [1234567890123456, 'affinity.cookie.secret must be a string of at least 16 characters or a non-empty array of them (got a number)'],
    [{ value: 'hunter2hunter2hunter2' }, 'affinity.cookie.secret must be a string of at least 16 characters or a non-empty array of them (got an object)'],
    [[SECRET, 'hunter2'], 'affinity.cookie.secret[1] must be a string of at least 16 characters (got a string of 7)'],
    [[SECRET, ['hunter2hunter2hunter2']], 'affinity.cookie.secret[1] must be a string of at least 16 characters (got an array of 1)'],
    [[undefined], 'affinity.cookie.secret[0] must be a string of at least 16 characters (got nothing)'],
    [[true], 'affinity.cookie.secret[0] must be a string of at least 16 characters (got a boolean)']
  ]
  for (const [secret, message] of cases) {
    const err = errorOf({ cookie: secret === undefined ? {} : { secret } })
    t.equal(err.code, 'FST_LOLLY_INVALID_OPTION')
    t.equal(err.message, message)
    t.notOk(err.message.includes('hunter2'), 'the secret is not echoed')
    t.notOk(err.message.includes(String(1234567890123456)), 'not even a number')
  }
  t.equal(errorOf({ cookie: { secret: 'short' } }, 'upstreams.api').message,
    'upstreams.api.affinity.cookie.secret must be a string of at least 16 characters (got a string of 5)')
  const top = read({ secret: SECRET })!
  t.equal(errorOf({ cookie: { secret: 'short' } }, 'upstreams.api', top).message,
    'upstreams.api.affinity.cookie.secret must be a string of at least 16 characters (got a string of 5)', 'a bad own secret fails even with one inherited')
  t.match(errorOf({ cookie: { sameSite: 'None' } }, '', top).message,
    /^affinity\.cookie\.sameSite must be 'Strict' or 'Lax' unless secure is true/, 'secure inherited false')
  t.equal(errorOf({ cookie: { secure: false } }, '', { ...top, secure: true, sameSite: 'None' }).message,
    "affinity.cookie.secure must be true when sameSite is 'None' (browsers drop a SameSite=None cookie without Secure), got false",
    'the key this object set is named')
})
