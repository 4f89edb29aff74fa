import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { InvalidOptionError } from '../errors.js'

/** A certificate (chain) and its private key, PEM, as read from their files. */
export interface TlsCredentials {
  cert: Buffer
  key: Buffer
  /** The files they came from, for messages. */
  certFile: string
  keyFile: string
}

/**
 * Reads the certificate and key files of a `listen` entry and checks that Node can serve with them
 * (each parses, and the key is the certificate's): a bad file fails when the file is loaded, at
 * `--check`, a start or a reload, naming `path` (`listen[0].tls`) and the file, never at the first
 * client's handshake. The key must not be encrypted (nothing would ask for its passphrase).
 */
export function readTlsCredentials (files: { cert: string, key: string }, path: string): TlsCredentials {
  const cert = readPem(files.cert, `${path}.cert`)
  const key = readPem(files.key, `${path}.key`)
  usable(() => createSecureContext({ cert }), `${path}.cert (${files.cert}) is not a PEM certificate`)
  usable(() => createSecureContext({ key }), `${path}.key (${files.key}) is not an unencrypted PEM private key`)
  usable(() => createSecureContext({ cert, key }), `${path}.key (${files.key}) is not the private key of ${path}.cert (${files.cert})`)
  return { cert, key, certFile: files.cert, keyFile: files.key }
}

/** The SHA-256 fingerprint of the (first) certificate, as `openssl x509 -fingerprint -sha256` prints it. */
export function fingerprint (credentials: TlsCredentials): string {
  return new X509Certificate(credentials.cert).fingerprint256
}

function readPem (file: string, path: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new InvalidOptionError(`${path} (${file}) cannot be read: ${(err as Error).message}`)
  }
}

function usable (check: () => unknown, message: string): void {
  try {
    check()
  } catch (err) {
    throw new InvalidOptionError(`${message}: ${(err as Error).message}`)
  }
}
