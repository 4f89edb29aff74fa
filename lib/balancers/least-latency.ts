import { TwoChoiceBalancer } from './weighted-draw.js'

/**
 * Least time over two random choices (nginx Plus `least_time`, Envoy's peak EWMA idea, the Go lolly
 * proxy's EWMA balancer): draw two distinct targets by weight and send to the one with the lower
 * `latency EWMA × (in-flight + 1)`, the time a new request can expect to wait there. The `+ 1`
 * counts the request being placed, so an idle slow target still loses to an idle fast one.
 *
 * A target without a latency sample yet (new, or never answered) is scored optimistically, as fast
 * as the other candidate, so it gets tried while it has no more in flight than its rival and earns a
 * measurement, without being flooded before its first answer comes back. Two unsampled candidates
 * are compared on in-flight alone. Ties go to the unsampled candidate, else to the first draw.
 */
export class LeastLatencyBalancer extends TwoChoiceBalancer {
  protected prefersSecond (a: number, b: number): boolean {
    const targetA = this.targets[a]
    const targetB = this.targets[b]
    let latencyA = targetA.latencyMs
    let latencyB = targetB.latencyMs
    if (latencyA < 0) latencyA = latencyB < 0 ? 1 : latencyB
    if (latencyB < 0) latencyB = latencyA
    const scoreA = latencyA * (targetA.inflight + 1)
    const scoreB = latencyB * (targetB.inflight + 1)
    return scoreB < scoreA || (scoreB === scoreA && targetB.latencyMs < 0 && targetA.latencyMs >= 0)
  }
}
