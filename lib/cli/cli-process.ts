import type { Writable } from 'node:stream'

/**
 * What the command needs of its process: the real `process` in bin/lolly.js, a stand-in in tests
 * (an EventEmitter that signals are emitted on, and streams that collect the output).
 */
export interface CliProcess {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdout: Writable
  readonly stderr: Writable
  on (signal: NodeJS.Signals, listener: () => void): unknown
  removeListener (signal: NodeJS.Signals, listener: () => void): unknown
}

export interface SignalHandlers {
  /** SIGHUP. Without it, SIGHUP is not listened to (and keeps its default: the process ends). */
  reload?: () => void
  /** The first SIGTERM or SIGINT: stop gracefully. */
  stop: (signal: NodeJS.Signals) => void
  /** Another SIGTERM or SIGINT while stopping: the operator does not want to wait. */
  force: (signal: NodeJS.Signals) => void
}

/** Listens to SIGTERM, SIGINT (and SIGHUP); returns a function that stops listening. */
export function watchSignals (proc: CliProcess, handlers: SignalHandlers): () => void {
  let stopping = false
  const listeners = new Map<NodeJS.Signals, () => void>()
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    listeners.set(signal, () => {
      if (stopping) {
        handlers.force(signal)
        return
      }
      stopping = true
      handlers.stop(signal)
    })
  }
  const reload = handlers.reload
  // A reload while stopping would apply targets to an app that is closing.
  if (reload !== undefined) listeners.set('SIGHUP', () => { if (!stopping) reload() })
  for (const [signal, listener] of listeners) proc.on(signal, listener)
  return () => {
    for (const [signal, listener] of listeners) proc.removeListener(signal, listener)
  }
}
