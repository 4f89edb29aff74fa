import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

// Certificates for tests, made by openssl (the Debian package; node:crypto makes keys, not
// certificates). An EC P-256 key and a self-signed certificate take about 20 ms.

export const OPENSSL_MISSING = 'openssl is not installed: apt-get install openssl (Debian package); the TLS tests make their certificates with it'

/** The openssl binary on PATH (or in /usr/bin, /usr/local/bin). */
export function findOpenssl (): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin']
  for (const dir of dirs) {
    if (dir === '') continue
    const file = path.join(dir, 'openssl')
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch {}
  }
  throw new Error(OPENSSL_MISSING)
}

/** Runs a program to its end; rejects with its stderr when it fails. */
export function run (file: string, args: string[], options: { env?: NodeJS.ProcessEnv, cwd?: string, timeout?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000, maxBuffer: 16 * 1024 * 1024, ...options }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

export interface TestCert {
  certFile: string
  keyFile: string
  /** PEM */
  cert: string
  key: string
}

/**
 * A self-signed server certificate for `localhost`, 127.0.0.1 and ::1 (the CN tells certificates
 * apart), and its unencrypted EC key, written to `<dir>/<name>.pem` and `<dir>/<name>.key`.
 * A client trusts it by passing `cert` as its `ca`.
 */
export async function selfSignedCert (dir: string, name: string, openssl = findOpenssl()): Promise<TestCert> {
  const certFile = path.join(dir, `${name}.pem`)
  const keyFile = path.join(dir, `${name}.key`)
  await run(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=fastify-lolly ${name}`,
    '-addext', 'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
    '-addext', 'basicConstraints = critical, CA:FALSE',
    '-addext', 'extendedKeyUsage = serverAuth'])
  return { certFile, keyFile, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') }
}
