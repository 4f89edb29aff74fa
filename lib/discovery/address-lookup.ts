import type { Resolver } from 'node:dns/promises'

/** Addresses of a name, with the smallest TTL among them (seconds; -1 when the answer had none). */
export interface Addresses {
  addresses: string[]
  ttl: number
}

// "No such name" and "no records of this type" are answers, not failures: what they mean for the
// pool is decided by the source (see dns-source.ts, emptyGrace).
const EMPTY_CODES: ReadonlySet<string | undefined> = new Set(['ENOTFOUND', 'ENODATA'])

/** Whether a lookup error is an empty answer (NXDOMAIN, NODATA) rather than a failure to get one. */
export function isEmptyAnswer (err: unknown): boolean {
  return EMPTY_CODES.has((err as NodeJS.ErrnoException).code)
}

/**
 * The A and/or AAAA records of `name` through c-ares (never the libuv threadpool getaddrinfo uses,
 * which four slow lookups can fill for the whole process). A family with no records adds nothing; any
 * other error fails the whole lookup, so a half answer never replaces a whole one.
 */
export async function lookupAddresses (resolver: Resolver, name: string, family: 0 | 4 | 6): Promise<Addresses> {
  const [v4, v6] = await Promise.all([
    family === 6 ? undefined : resolveFamily(resolver, name, 4),
    family === 4 ? undefined : resolveFamily(resolver, name, 6)
  ])
  const addresses: string[] = []
  let ttl = -1
  for (const records of [v4, v6]) {
    if (records === undefined) continue
    for (const record of records) {
      addresses.push(record.address)
      if (ttl === -1 || record.ttl < ttl) ttl = record.ttl
    }
  }
  return { addresses, ttl }
}

async function resolveFamily (resolver: Resolver, name: string, family: 4 | 6): Promise<Array<{ address: string, ttl: number }>> {
  try {
    return family === 4 ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true })
  } catch (err) {
    if (isEmptyAnswer(err)) return []
    throw err
  }
}
