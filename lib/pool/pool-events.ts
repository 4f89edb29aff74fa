import type { Target, TargetState } from './target.js'

/** One try of a proxied request: which target, and how it ended. */
export interface TryRecord {
  target: string
  /** Response status, when the target answered. */
  status?: number
  /** Error code, when it did not. */
  error?: string
  /** Time to the response headers (or to the error), ms. */
  durationMs: number
}

/** The error of a try cut because the client went away: not the target's doing. */
export const CLIENT_ABORTED = 'CLIENT_ABORTED'

/** The error of a try cut because the client stalled its request body (clientBodyTimeout): not the target's doing either. */
export const CLIENT_BODY_TIMEOUT = 'FST_LOLLY_CLIENT_BODY_TIMEOUT'

/** A target's state changed: reported once per transition. */
export interface StateChange {
  upstream: string
  target: string
  /** The target's name; null when it has none. */
  name: string | null
  from: TargetState
  to: TargetState
  reason: string
  at: number
}

/** The pool entered or left panic mode: reported once per change. */
export interface PanicChange {
  upstream: string
  panicking: boolean
  /** Healthy targets, and targets that are neither disabled nor draining, when it changed. */
  available: number
  eligible: number
  at: number
}

/** A target was added to or removed from a pool at runtime, or by a discovery source. */
export interface MembershipChange {
  upstream: string
  target: string
  /** The target's name; null when it has none. */
  name: string | null
  change: 'added' | 'removed'
  /** The discovery source that added or removed it; null for a runtime call. */
  source: string | null
  at: number
}

/**
 * What a part of fastify-lolly hears from a pool: the active checker (membership), metrics (state
 * and settled requests), the status stream (state) and, last, the public emitter. Given to the pool
 * through `observe`, never through `app.lolly`'s events, so nothing a user does to those breaks them.
 */
export interface PoolObserver {
  stateChanged? (change: StateChange, target: Target): void
  panicChanged? (change: PanicChange): void
  membershipChanged? (change: MembershipChange, target: Target): void
  /** A request through the pool settled: its tries are `tries[from]` up to, not including, `tries[to]`. */
  requestSettled? (upstream: string, tries: readonly TryRecord[], from: number, to: number): void
}

/**
 * A pool's observers, told in the order they were added, with the public one (the app's emitter,
 * whose listeners are user code) always last. A settled request costs one length check while no
 * observer counts requests.
 */
export class PoolObservers {
  private added: PoolObserver[] = []
  private last: PoolObserver | undefined = undefined
  // Both are replaced, never changed in place, so an observer added or removed while the others are
  // told does not shift the walk in progress.
  private all: readonly PoolObserver[] = []
  private settling: readonly PoolObserver[] = []

  /** Adds an observer; the returned function removes it. */
  add (observer: PoolObserver): () => void {
    this.added = [...this.added, observer]
    this.update()
    return () => {
      this.added = this.added.filter((other) => other !== observer)
      this.update()
    }
  }

  /** Sets the observer told after every other. */
  setLast (observer: PoolObserver): void {
    this.last = observer
    this.update()
  }

  stateChanged (change: StateChange, target: Target): void {
    for (const observer of this.all) observer.stateChanged?.(change, target)
  }

  panicChanged (change: PanicChange): void {
    for (const observer of this.all) observer.panicChanged?.(change)
  }

  membershipChanged (change: MembershipChange, target: Target): void {
    for (const observer of this.all) observer.membershipChanged?.(change, target)
  }

  requestSettled (upstream: string, tries: readonly TryRecord[], from: number, to: number): void {
    const settling = this.settling
    for (let i = 0; i < settling.length; i++) settling[i].requestSettled!(upstream, tries, from, to)
  }

  private update (): void {
    this.all = this.last === undefined ? this.added : [...this.added, this.last]
    this.settling = this.all.filter((observer) => observer.requestSettled !== undefined)
  }
}
