import type { DiscoveredTarget, DiscoveryContext } from '../../lib/options/types.js'

/**
 * A discovery provider the test steers: `yieldSet` hands the plugin a whole set, `fail` makes the
 * current iteration throw, `end` ends it. `calls` counts discover() calls; `signals` holds each
 * call's abort signal.
 */
export interface TestProvider {
  discover (context: DiscoveryContext): AsyncIterable<readonly DiscoveredTarget[]>
  yieldSet (value: unknown): Promise<void>
  fail (err: Error): Promise<void>
  end (): Promise<void>
  calls: number
  signals: AbortSignal[]
}

type Step = { value: unknown } | { error: Error } | { end: true }

export function testProvider (...initial: unknown[]): TestProvider {
  let queue: Step[] = initial.map((value) => ({ value }))
  let wake: (() => void) | undefined
  const provider: TestProvider = {
    calls: 0,
    signals: [],
    async * discover ({ signal }) {
      provider.calls++
      provider.signals.push(signal)
      while (true) {
        while (queue.length === 0) await new Promise<void>((resolve) => { wake = resolve })
        const step = queue.shift()!
        if ('error' in step) throw step.error
        if ('end' in step) return
        yield step.value as readonly DiscoveredTarget[]
      }
    },
    yieldSet: (value) => push({ value }),
    fail: (error) => push({ error }),
    end: () => push({ end: true })
  }
  async function push (step: Step): Promise<void> {
    queue = [...queue, step]
    wake?.()
    wake = undefined
    await settle()
  }
  return provider
}

/** Lets promise chains and socket callbacks run (setImmediate stays real under the test clock). */
export async function settle (rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
