import { execFileSync, spawn } from 'node:child_process'

/**
 * Network namespaces for the tests that drop packets (nftables): each test gets a namespace of its
 * own, with only a loopback interface, deleted at its end; nothing touches the machine's own network.
 * Needs root: `skipReason()` says why a test cannot run; a root machine without `ip` or `nft` fails.
 */

let made = 0

/** Why the namespace tests cannot run here, or undefined when they can. */
export function skipReason (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: makes a network namespace (ip netns) and drops packets in it with nftables; CI runs it as root'
  for (const [command, args, pkg] of [['ip', ['-V'], 'iproute2'], ['nft', ['--version'], 'nftables']] as const) {
    try {
      execFileSync(command, args, { stdio: 'ignore' })
    } catch {
      throw new Error(`the blackhole tests need \`${command}\` (Debian package ${pkg}): apt-get install ${pkg}`)
    }
  }
  return undefined
}

/** Makes a namespace with its loopback up; deleted at the test's end. */
export function makeNetns (t: { teardown (fn: () => void): void }): string {
  const name = `lolly-test-${process.pid}-${++made}`
  execFileSync('ip', ['netns', 'add', name])
  t.teardown(() => execFileSync('ip', ['netns', 'del', name]))
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'])
  return name
}

/** Runs `node script arg` inside `netns`; resolves with the JSON line it prints. */
export async function runInNetns (netns: string, script: string, arg: unknown): Promise<any> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, script, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${script} exited with ${String(code)} in ${netns}: ${err}`)
  return JSON.parse(out)
}
