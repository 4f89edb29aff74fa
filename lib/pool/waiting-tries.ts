import type { Target } from './target.js'

/** A try that has sent (or queued) its request and not heard the answer's headers yet. */
export interface WaitingTry {
  readonly target: Target
  /** Links of its target's list: written by WaitingTries only. */
  prevWaiting: WaitingTry | null
  nextWaiting: WaitingTry | null
  /** Its target went out of service for its health: its request may move on to another target. */
  targetDown (): void
}

/**
 * The tries of one pool still waiting for their answer, per target: when health takes a target out
 * (ejected, failed probes), the requests stuck on it move on at once instead of each waiting out its
 * own timeout. A blackholed host answers nothing, so a request already written to one of its
 * keep-alive connections would otherwise wait the whole responseTimeout (30 s): measured under load,
 * 17 requests did, ending 30.5 s after the drop, while the target was ejected after 5.5 s.
 *
 * Each target's tries are an intrusive doubly linked list, so adding and removing a try allocates
 * nothing and the per-request cost is a few field writes; only an ejection walks a list, its own.
 */
export class WaitingTries {
  private readonly heads = new Map<Target, WaitingTry>()

  add (attempt: WaitingTry): void {
    const head = this.heads.get(attempt.target)
    attempt.prevWaiting = null
    attempt.nextWaiting = head ?? null
    if (head !== undefined) head.prevWaiting = attempt
    this.heads.set(attempt.target, attempt)
  }

  /** Takes `attempt` off its list; a try not on one is left alone. */
  remove (attempt: WaitingTry): void {
    const { prevWaiting: prev, nextWaiting: next } = attempt
    if (prev !== null) prev.nextWaiting = next
    else if (this.heads.get(attempt.target) === attempt) {
      if (next === null) this.heads.delete(attempt.target)
      else this.heads.set(attempt.target, next)
    } else return
    if (next !== null) next.prevWaiting = prev
    attempt.prevWaiting = attempt.nextWaiting = null
  }

  /** Tells every try waiting on `target` that it went down; each one that moves on leaves the list. */
  targetDown (target: Target): void {
    let attempt = this.heads.get(target) ?? null
    while (attempt !== null) {
      // Read before telling: a try that moves on takes itself off the list.
      const next = attempt.nextWaiting
      attempt.targetDown()
      attempt = next
    }
  }
}
