import type { IncomingHttpHeaders } from 'node:http'
import type { Duplex } from 'node:stream'
import { errors, util, type Dispatcher } from 'undici'

type Handler = Dispatcher.DispatchHandler
type Abort = (reason?: Error) => void
// The classic handler methods as undici's Client calls them (its typings lag behind the runtime).
export type OnConnect = (abort: Abort, context?: object) => void
export type OnHeaders = (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string) => boolean

/**
 * What the abort function a caller's handler keeps holds: the request until it settles, then nothing.
 * The handler keeps that function as long as the response body lives (undici hands it to the body
 * stream); through a link cut at settle, a finished request's whole graph (options, headers, handler)
 * is garbage at once instead of surviving into the old generation: measured, that was most of the
 * proxy's GC cost.
 */
export class CallerLink<T> {
  request: T | undefined
  constructor (request: T) {
    this.request = request
  }
}

/**
 * A caller's handler in the classic form the request core speaks (onConnect, onHeaders, onData,
 * onComplete, onError). undici's own dispatchers take both forms: a new-style handler (onRequestStart,
 * onResponseStart ...; every handler that reaches a dispatcher through `compose()`d interceptors is
 * one) is adapted here the way undici's UnwrapHandler does it, and a classic one is used as it is.
 */
export function classicHandler (handler: Handler): Handler {
  return typeof handler.onRequestStart === 'function' ? new NewStyleCaller(handler) : handler
}

/** What a new-style handler steers the request with: undici's DispatchController over a classic abort and resume. */
class Controller implements Dispatcher.DispatchController {
  rawHeaders: Buffer[] | null = null
  rawTrailers: string[] | null = null
  resumeReading: (() => void) | null = null
  private readonly abortRequest: Abort
  private isPaused = false
  private isAborted = false
  private abortReason: Error | null = null

  constructor (abort: Abort) {
    this.abortRequest = abort
  }

  get aborted (): boolean {
    return this.isAborted
  }

  get paused (): boolean {
    return this.isPaused
  }

  get reason (): Error | null {
    return this.abortReason
  }

  pause (): void {
    this.isPaused = true
  }

  resume (): void {
    if (!this.isPaused) return
    this.isPaused = false
    this.resumeReading?.()
  }

  abort (reason: Error): void {
    if (this.isAborted) return
    this.isAborted = true
    this.abortReason = reason
    this.abortRequest(reason)
  }
}

// An error can come before the request ever connects (no target can take it): its controller has nothing to abort.
function nothingToAbort (): void {}

class NewStyleCaller implements Handler {
  private readonly handler: Handler
  private controller: Controller | undefined = undefined

  constructor (handler: Handler) {
    this.handler = handler
  }

  onConnect (abort: Abort, context?: object): void {
    this.controller = new Controller(abort)
    this.handler.onRequestStart?.(this.controller, context)
  }

  onResponseStarted (): void {
    this.handler.onResponseStarted?.()
  }

  onUpgrade (statusCode: number, rawHeaders: Buffer[], socket: Duplex): void {
    const controller = this.controller!
    controller.rawHeaders = rawHeaders
    this.handler.onRequestUpgrade?.(controller, statusCode, parse(rawHeaders), socket)
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage?: string): boolean {
    const controller = this.controller!
    controller.resumeReading = resume
    controller.rawHeaders = rawHeaders
    this.handler.onResponseStart?.(controller, statusCode, parse(rawHeaders), statusMessage)
    return !controller.paused
  }

  onData (chunk: Buffer): boolean {
    const controller = this.controller!
    this.handler.onResponseData?.(controller, chunk)
    return !controller.paused
  }

  onComplete (rawTrailers: string[] | null): void {
    const controller = this.controller!
    controller.rawTrailers = rawTrailers
    this.handler.onResponseEnd?.(controller, parse(rawTrailers))
  }

  onError (err: Error): void {
    if (typeof this.handler.onResponseError !== 'function') throw new errors.InvalidArgumentError('invalid onError method')
    this.controller ??= new Controller(nothingToAbort)
    this.handler.onResponseError(this.controller, err)
  }
}

function parse (raw: Buffer[] | string[] | null): IncomingHttpHeaders {
  // undici always hands over an array, an empty one when there are no trailers; its typings allow null.
  return util.parseHeaders(raw as Buffer[]) as IncomingHttpHeaders
}
