import type { CliProcess } from './cli-process.js'
import { watchSignals } from './cli-process.js'

export interface StopOptions {
  /** Closes everything; Fastify's close stops accepting, waits for in-flight requests, runs onClose. */
  close: () => Promise<void>
  /** Longest wait for `close`, ms; 0 waits as long as it takes. Read when the signal arrives. */
  timeout: () => number
  /** SIGHUP handler, if the command reloads. */
  reload?: () => void
  log: (level: 'info' | 'error', message: string) => void
}

/**
 * Runs until SIGTERM or SIGINT, then closes gracefully. Resolves with the exit code: 0 once
 * everything closed, 1 if closing failed, took longer than the timeout, or a second signal said
 * not to wait.
 */
export function runUntilSignal (proc: CliProcess, options: StopOptions): Promise<number> {
  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const finish = (code: number): void => {
      clearTimeout(timer)
      unwatch()
      resolve(code)
    }
    const unwatch = watchSignals(proc, {
      reload: options.reload,
      stop (signal) {
        options.log('info', `lolly: ${signal} received: no new connections, finishing the requests in flight`)
        const timeout = options.timeout()
        if (timeout > 0) {
          timer = setTimeout(() => {
            options.log('error', `lolly: requests still in flight after shutdownTimeout (${timeout} ms); exiting without them`)
            finish(1)
          }, timeout)
        }
        options.close().then(() => {
          options.log('info', 'lolly: stopped')
          finish(0)
        }, (err: Error) => {
          options.log('error', `lolly: error while stopping: ${err.message}`)
          finish(1)
        })
      },
      force (signal) {
        options.log('error', `lolly: ${signal} received again: exiting without waiting for requests in flight`)
        finish(1)
      }
    })
  })
}
