import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { Output } from './fake-cli-process.js'

const root = path.join(__dirname, '..', '..')
export const LOLLY_BIN = path.join(root, 'bin', 'lolly.js')

/** The real `lolly` command, spawned: `node bin/lolly.js ...args` against the built dist/. */
export interface LollyChild {
  child: ChildProcess
  out: Output
  err: Output
  /** Resolves with the exit code (or the signal that killed it); rejects if it takes longer than `ms`. */
  exit (ms?: number): Promise<number | NodeJS.Signals>
}

export function spawnLolly (t: { teardown (fn: () => unknown): void }, args: string[], env: Record<string, string> = {}): LollyChild {
  if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli is missing: run `npm run build` first')
  const child = spawn(process.execPath, [LOLLY_BIN, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = new Output()
  const err = new Output()
  child.stdout!.pipe(out.stream)
  child.stderr!.pipe(err.stream)
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal!))
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited
  })
  return {
    child,
    out,
    err,
    exit: (ms = 10_000) => {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`lolly did not exit within ${ms} ms\nstdout:\n${out.text}\nstderr:\n${err.text}`)), ms)
      })
      return Promise.race([exited, late]).finally(() => clearTimeout(timer))
    }
  }
}

/** The origin the spawned gateway listens on, from its log line. */
export async function gatewayOrigin (lolly: LollyChild): Promise<string> {
  await lolly.out.waitFor(/gateway listening on/, 10_000)
  return lolly.out.lines.find((line) => line.msg.startsWith('lolly: gateway listening on'))!.address as string
}
