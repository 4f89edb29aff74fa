import { BadRequestTargetError, UpstreamNotInPoolError } from '../errors.js'
import { show } from '../options/option-reader.js'
import type { Target } from '../pool/target.js'
import type { UpstreamPool } from '../pool/upstream-pool.js'

// URLs that name a pool's targets, as reply-from's users write them: an absolute source
// (`reply.from('http://host:port/x')`, or a client's absolute-form request target) and what a
// `getUpstream` returns. Either may name a target of the pool and nothing else: no URL a route or a
// client writes can send a request outside it (reply-from CVE-2021-21321 and its sequels).

// `scheme:` at the start: an absolute URL (RFC 3986 section 3.1).
const SCHEME = /^[A-Za-z][A-Za-z\d+.-]*:/

/** Whether `source` is an absolute URL (it names an origin), rather than a path. */
export function isAbsolute (source: string): boolean {
  return SCHEME.test(source)
}

/**
 * The path, within the pool, of an absolute source whose origin is one of the pool's targets: its
 * path below that target's base path, and its query. The pool then balances it as any other path:
 * the origin says the request may go to the pool, not which target takes it (that one may be down).
 * Throws FST_LOLLY_BAD_REQUEST_TARGET (400) for any other URL, for one with credentials, and for one
 * that two base paths at the origin both hold (`/a` and `/a/b` for `/a/b/c`): which path it meant
 * below the target the balancer picks cannot be told.
 */
export function pathInPool (pool: UpstreamPool, source: string): string {
  let url: URL
  try {
    url = new URL(source)
  } catch {
    throw refused(source)
  }
  const targets = pool.targetsAt(url.origin)
  if (targets === undefined || url.username !== '' || url.password !== '') throw refused(source)
  const path = url.pathname
  let below: string | undefined
  for (const target of targets) {
    const base = target.basePath
    if (base === '' || path === base || path.startsWith(base + '/')) {
      const rest = path.slice(base.length)
      if (below !== undefined && rest !== below) throw refused(source)
      below = rest
    }
  }
  if (below === undefined) throw refused(source)
  return (below === '' ? '/' : below) + url.search
}

/**
 * The target a `getUpstream` named: one of the pool's target URLs, as `app.lolly.targets` lists them
 * (a trailing slash allowed), as a string or a URL; of an array, the first (as reply-from reads a
 * `base` array). Anything else is the route's mistake, answered 500 FST_LOLLY_UPSTREAM_NOT_IN_POOL.
 */
export function targetNamed (pool: UpstreamPool, named: unknown): Target {
  const value = Array.isArray(named) ? named[0] : named instanceof URL ? named.href : named
  if (typeof value === 'string') {
    let url: URL | undefined
    try {
      url = new URL(value)
    } catch {}
    if (url !== undefined && url.search === '' && url.hash === '' && url.username === '' && url.password === '') {
      const target = pool.target(url.origin + url.pathname.replace(/\/+$/, ''))
      if (target !== undefined) return target
    }
  }
  // show() for anything but a string: JSON.stringify throws on a BigInt or a cycle.
  throw new UpstreamNotInPoolError(typeof named === 'string' ? JSON.stringify(named) : show(named), pool.name)
}

function refused (source: string): Error {
  return new BadRequestTargetError(JSON.stringify(source))
}
