import { hkdfSync } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { ClusterConfig } from '../config.ts'
import { ConfigError } from '../errors.ts'
import { fingerprint, readAcceptFile } from '../secrets.ts'

/** The shortest cluster key accepted, in bytes. */
export const MIN_CLUSTER_KEY_BYTES = 16

/**
 * Reads the cluster key: the file named by `--cluster-key-file` (which must
 * not be readable by group or others), or `SHOAL_CLUSTER_KEY`. Surrounding
 * white space is ignored. The key is never logged.
 */
export async function readClusterKey(cluster: ClusterConfig): Promise<Uint8Array> {
  let text: string
  if (cluster.keyFile !== undefined) {
    const file = cluster.keyFile
    const info = await stat(file).catch((error: unknown) => {
      throw new ConfigError(`cannot read the cluster key file ${file}: ${(error as Error).message}`)
    })
    if ((info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(3, '0')
      throw new ConfigError(
        `the cluster key file ${file} is readable by other users (mode ${mode}); restrict it with: chmod 600 ${file}`,
      )
    }
    text = await readFile(file, 'utf8')
  } else if (cluster.key !== undefined) {
    text = cluster.key
  } else {
    throw new ConfigError('no cluster key: give --cluster-key-file F or SHOAL_CLUSTER_KEY')
  }
  const key = new TextEncoder().encode(text.trim())
  if (key.byteLength < MIN_CLUSTER_KEY_BYTES)
    throw new ConfigError(`the cluster key must be at least ${MIN_CLUSTER_KEY_BYTES} bytes long`)
  return key
}

/**
 * A key for one use, derived from the cluster key with HKDF-SHA256, so the
 * gossip layer and the transport never share key material.
 */
export function deriveKey(clusterKey: Uint8Array, purpose: string, bytes = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', clusterKey, new Uint8Array(0), `shoal ${purpose}`, bytes))
}

/** The cluster keys a node holds: it sends with `sending` and accepts it and every key of `accepted`. */
export interface ClusterKeySet {
  readonly sending: Uint8Array
  readonly accepted: readonly Uint8Array[]
}

/**
 * The cluster key and, with `--cluster-key-accept-file`, the other keys
 * accepted during a rotation (docs/operations/rotate-keys.md). Throws `ConfigError`.
 */
export async function readClusterKeys(cluster: ClusterConfig): Promise<ClusterKeySet> {
  const sending = await readClusterKey(cluster)
  const extra =
    cluster.keyAcceptFile === undefined ? [] : readAcceptFile(cluster.keyAcceptFile, 'cluster key accept')
  const shown = fingerprint(sending)
  const accepted = extra
    .map((text) => new TextEncoder().encode(text))
    .filter((key) => fingerprint(key) !== shown)
  return { sending, accepted }
}

/** Fingerprints of a key set, safe to show: the same on every node that holds the same keys. */
export function clusterKeyFingerprints(keys: ClusterKeySet): { sending: string; accepted: string[] } {
  return { sending: fingerprint(keys.sending), accepted: keys.accepted.map((key) => fingerprint(key)) }
}
