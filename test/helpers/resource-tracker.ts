import { createHook, type AsyncHook } from 'node:async_hooks'
import path from 'node:path'

const LIB = path.resolve(__dirname, '..', '..', 'lib') + path.sep

export interface TrackedResource {
  type: string
  /** The first stack frame outside Node's internals: who created it. */
  createdAt: string
}

/**
 * Records every async resource (timer, socket, server, ...) created while it runs, and forgets it
 * when Node destroys it. Unlike `process.getActiveResourcesInfo()` it also sees unref()ed timers and
 * sockets, which never keep a process alive but still fire or hold a connection open.
 */
export class ResourceTracker {
  private readonly live = new Map<number, TrackedResource>()
  private readonly hook: AsyncHook

  constructor (types: readonly string[] = ['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'Immediate']) {
    const wanted = new Set(types)
    this.hook = createHook({
      init: (id, type) => {
        if (!wanted.has(type)) return
        this.live.set(id, { type, createdAt: creator() })
      },
      destroy: (id) => { this.live.delete(id) }
    })
  }

  start (): this {
    this.hook.enable()
    return this
  }

  stop (): void {
    this.hook.disable()
  }

  /** Resources still alive, of the given type (all when omitted). */
  alive (type?: string): TrackedResource[] {
    return [...this.live.values()].filter((resource) => type === undefined || resource.type === type)
  }

  /** Resources still alive that fastify-lolly's own code (lib/) created directly. */
  ours (): TrackedResource[] {
    return this.alive().filter((resource) => resource.createdAt.startsWith(LIB))
  }
}

function creator (): string {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 20
  const stack = new Error().stack ?? ''
  Error.stackTraceLimit = limit
  // Skip this file's frames and Node's own (node:internal/timers, node:net, ...): the first frame
  // left is the code that called setTimeout / net.connect / server.listen.
  for (const line of stack.split('\n').slice(1)) {
    const match = /\(?((?:\/|[A-Za-z]:\\)[^():]+|node:[^():]+):\d+:\d+\)?$/.exec(line.trim())
    if (match === null) continue
    const file = match[1]
    if (file.startsWith('node:') || file === __filename) continue
    return `${file} ${line.trim()}`
  }
  return 'unknown'
}
