import type { Readable } from 'node:stream'
import { ClientBodyTimeoutError } from '../errors.js'

/** What the timer may do to the try it times: cut it (undici reports that to the try's owner). */
export interface BodyReader {
  abort (reason: Error): void
}

/**
 * nginx's client_body_timeout, for a request body streamed to the target as the client sends it (a
 * route with a pass-through body parser, as the `lolly` command's routes are; a stream given to a
 * pool's dispatcher): the longest gap between two chunks undici reads from the body, from the moment
 * the try's connection starts to send. A client that stalls longer costs its try: cut, answered
 * 408, never charged to the target, never retried (any other target would wait just as long).
 *
 * A gap while undici holds the body paused is the target's, not the client's: the target does not
 * read what it was sent, so its socket needs a drain, and responseTimeout (undici's headersTimeout,
 * which fires while a request's socket needs a drain) bounds that wait and charges the target.
 * A body in memory (Buffer, string) is written at once: no timer. One timer per try that streams a
 * body, re-armed (refresh()) for each chunk, never one per chunk.
 */
export class ClientBodyTimer {
  readonly #reader: BodyReader
  readonly #body: Readable
  readonly #ms: number
  #timer: NodeJS.Timeout | undefined = undefined

  private constructor (reader: BodyReader, body: Readable, ms: number) {
    this.#reader = reader
    this.#body = body
    this.#ms = ms
  }

  /** The timer of a try that sends `body`; undefined when the body is not a stream, or `ms` is 0 (off). */
  static for (reader: BodyReader, body: unknown, ms: number): ClientBodyTimer | undefined {
    return ms > 0 && isStream(body) ? new ClientBodyTimer(reader, body, ms) : undefined
  }

  /** The try's connection starts to send the request: the body's first chunk is due within the timeout. */
  start (): void {
    this.#timer = setTimeout(ClientBodyTimer.#expired, this.#ms, this).unref()
  }

  /** undici read a chunk of the body and wrote it to the target. */
  read (): void {
    this.#timer?.refresh()
  }

  /** The body was sent whole, the answer came, or the try ended: the timer has nothing left to time. */
  stop (): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  static #expired (self: ClientBodyTimer): void {
    // Paused by undici: the target is not reading (see above), which is no stall of the client's.
    if (self.#body.readableFlowing === false) {
      self.#timer!.refresh()
      return
    }
    self.#timer = undefined
    self.#reader.abort(new ClientBodyTimeoutError(self.#ms))
  }
}

/** As undici tells a stream body from the others. */
function isStream (body: unknown): body is Readable {
  return body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function' && typeof (body as Readable).on === 'function'
}
