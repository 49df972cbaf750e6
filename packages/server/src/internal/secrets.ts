/**
 * The node's secrets read from files — the master key, the cluster key and
 * the extra keys accepted during a rotation — and their live reload
 * (`POST /admin/secrets/reload`, `SIGHUP`; docs/operations/rotate-keys.md).
 *
 * A key file must not be readable by group or others. An accept file holds
 * one key per line; blank lines and lines starting with `#` are skipped.
 * No key is ever logged or answered: only fingerprints, the first 12 hex
 * digits of SHA-256 over a fixed label and the key, so operators can check
 * that every node holds the same keys.
 */

import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { ConfigError } from './errors.ts'

/** The shortest master key and cluster key accepted, in bytes. */
export const MIN_SECRET_BYTES = 16

function readSecretFile(file: string, what: string): string {
  let mode: number
  try {
    mode = statSync(file).mode
  } catch (error) {
    throw new ConfigError(`cannot read the ${what} file ${file}: ${(error as Error).message}`)
  }
  if ((mode & 0o077) !== 0) {
    const shown = (mode & 0o777).toString(8).padStart(3, '0')
    throw new ConfigError(
      `the ${what} file ${file} is readable by other users (mode ${shown}); restrict it with: chmod 600 ${file}`,
    )
  }
  return readFileSync(file, 'utf8')
}

/** The master key held by `file` (surrounding white space ignored). Throws `ConfigError`. */
export function readMasterKeyFile(file: string): string {
  const key = readSecretFile(file, 'master key').trim()
  if (Buffer.byteLength(key) < MIN_SECRET_BYTES)
    throw new ConfigError(`the master key in ${file} must be at least ${MIN_SECRET_BYTES} bytes long`)
  return key
}

/** The keys of an accept file, one per line, in order. Throws `ConfigError`. */
export function readAcceptFile(file: string, what: string): string[] {
  const keys = readSecretFile(file, what)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  keys.forEach((key, i) => {
    if (Buffer.byteLength(key) < MIN_SECRET_BYTES)
      throw new ConfigError(`key ${i + 1} in ${file} is shorter than ${MIN_SECRET_BYTES} bytes`)
  })
  return keys
}

/** A key's public fingerprint: 12 hex digits, the same on every node that holds the key. */
export function fingerprint(key: string | Uint8Array): string {
  return createHash('sha256').update('shoal key fingerprint\n').update(key).digest('hex').slice(0, 12)
}
