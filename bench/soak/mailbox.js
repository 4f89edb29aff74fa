'use strict'

/** The messages of an IPC channel (`process`, or a forked child), taken by type in order of arrival. */
function mailbox (channel) {
  const messages = []
  const waiting = []
  let gone = null
  channel.on('message', (message) => {
    messages.push(message)
    for (const wake of waiting.splice(0)) wake()
  })
  const end = (why) => {
    gone = why
    for (const wake of waiting.splice(0)) wake()
  }
  channel.once('disconnect', () => end('the other process went away'))
  // A child: its exit. (The process's own 'exit' comes too late to matter.)
  channel.once('exit', (code, signal) => end(`the other process exited (${signal ?? code})`))
  return async function next (type) {
    for (;;) {
      const at = messages.findIndex((m) => m.type === type)
      if (at !== -1) return messages.splice(at, 1)[0]
      if (gone !== null) throw new Error(`waiting for '${type}': ${gone}`)
      await new Promise((resolve) => waiting.push(resolve))
    }
  }
}

module.exports = { mailbox }
