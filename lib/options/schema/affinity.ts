import { TOKEN } from '../../http/header-names.js'
import { boolean, choice, integer, object, patterned } from './leaves.js'

// `affinity`: session affinity through a signed cookie the proxy issues.

// RFC 6265bis caps Max-Age at 400 days; browsers clamp anything longer, so a longer one is a mistake.
const MAX_AGE = 400 * 24 * 3600
// RFC 6265 path-value: any CHAR but CTLs and ';' (the attribute separator).
const COOKIE_PATH = /^\/[\x20-\x3a\x3c-\x7e]*$/
// A host name or an IP: a port, scheme or path here makes browsers drop the cookie.
const COOKIE_DOMAIN = /^\.?[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$/
const AFFINITY_EXPECT = 'false or an object ({ cookie: { secret, ... } })'

const cookie = object({
  name: patterned(TOKEN, "a cookie name (letters, digits and !#$%&'*+-.^_`|~)", { default: 'lolly' }),
  // Checked by the reader, whose errors give a secret's type and length only (option errors end up
  // in logs): a schema error would print the value.
  secret: { description: 'HMAC key of at least 16 characters, or several for rotation: the first signs, all verify. Required.' },
  maxAge: integer(0, MAX_AGE, { description: 'Lifetime in seconds, at most 400 days; 0 = a session cookie.', default: 0 }, `a number of seconds from 0 (a session cookie) to ${MAX_AGE} (400 days)`),
  secure: boolean({ default: false }),
  httpOnly: boolean({ default: true }),
  sameSite: choice(['Strict', 'Lax', 'None'] as const, { description: "'None' needs secure: true.", default: 'Lax' }),
  path: patterned(COOKIE_PATH, "a path starting with '/' (printable ASCII, no ';')", { default: '/' }),
  domain: {
    type: ['string', 'null'],
    pattern: COOKIE_DOMAIN.source,
    lollyExpect: "a domain such as 'example.com' (no port, scheme or path), or null",
    description: 'Default none: the cookie goes back to the host that set it only.'
  }
}, 'an object ({ secret, ... })')

export const affinitySchema = {
  type: ['boolean', 'object'],
  lollyPlain: true,
  lollyExpect: AFFINITY_EXPECT,
  if: { type: 'boolean' },
  then: { const: false },
  properties: { cookie },
  additionalProperties: false,
  description: 'Session affinity through a signed cookie the proxy issues. Off unless set; false turns an inherited one off.'
} as const
