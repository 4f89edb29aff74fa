import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import type { CliProcess } from '../../lib/cli/cli-process.js'

/** Collects what a stream receives, and waits for a line that matches. */
export class Output {
  readonly stream = new PassThrough()
  text = ''

  constructor () {
    this.stream.setEncoding('utf8')
    this.stream.on('data', (chunk: string) => { this.text += chunk })
  }

  /** JSON log lines (the gateway's pino output). */
  get lines (): Array<Record<string, unknown> & { msg: string }> {
    return this.text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
  }

  /** Resolves with the first match of `pattern` once the output has one; rejects after `ms`. */
  async waitFor (pattern: RegExp, ms = 5000): Promise<RegExpExecArray> {
    const until = Date.now() + ms
    for (;;) {
      const match = pattern.exec(this.text)
      if (match !== null) return match
      if (Date.now() > until) throw new Error(`no ${pattern} within ${ms} ms in:\n${this.text}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

/** A stand-in for `process`: signals are emitted on it, output is collected. */
export class FakeCliProcess extends EventEmitter implements CliProcess {
  readonly env: Record<string, string | undefined>
  readonly out = new Output()
  readonly err = new Output()
  readonly stdout = this.out.stream
  readonly stderr = this.err.stream

  constructor (env: Record<string, string | undefined> = {}) {
    super()
    this.env = env
  }

  signal (name: NodeJS.Signals): void {
    this.emit(name)
  }
}
