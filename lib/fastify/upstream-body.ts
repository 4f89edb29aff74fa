import { Readable } from 'node:stream'

type Abort = (reason?: Error) => void

// undici's own body stream's buffer: Node's default (16 KiB on Node 20) would pause and resume the
// socket for nearly every chunk of a large body.
const HIGH_WATER_MARK = 64 * 1024

function noop (): void {}

/**
 * An upstream answer's body as the Readable the reply streams (and an onResponse caller's
 * `res.stream`): undici's classic handler pushes into it, and its backpressure is undici's own.
 * When push() says the buffer is full, the handler's onData returns false and undici stops reading
 * the socket; when the reader wants more, _read resumes it. So a large body to a slow reader holds
 * one highWaterMark here and the socket buffers, whatever its size. Destroyed before its end (the
 * client went away), it stops the upstream request; one nobody reads is stopped when the response
 * closes (FromCall.responseClosed).
 */
export class UpstreamBody extends Readable {
  /** undici's resume of the paused parser; a no-op while it is not paused. */
  readonly #resume: () => void
  /** Stops the request (the pool's abort, which blames no target); undefined once the body ended. */
  #abort: Abort | undefined

  constructor (resume: () => void, abort: Abort | undefined) {
    super({ highWaterMark: HIGH_WATER_MARK })
    // As undici does for its body stream: a failure while nobody reads it yet (an onResponse that
    // sends it later, an onSend hook that replaced it) must not be an uncaught 'error'. Readers that
    // come get the error all the same.
    this.on('error', noop)
    this.#resume = resume
    this.#abort = abort
  }

  /** The whole body came: nothing left to stop. */
  complete (): void {
    this.#abort = undefined
    this.push(null)
  }

  /** The upstream request failed (and has stopped): the reader gets its error. */
  fail (err: Error): void {
    this.#abort = undefined
    this.destroy(err)
  }

  override _read (): void {
    this.#resume()
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    const abort = this.#abort
    if (abort !== undefined) {
      this.#abort = undefined
      abort(err ?? undefined)
    }
    callback(err)
  }
}
