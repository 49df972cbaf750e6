/**
 * The node's two secrets on the transport: its libp2p identity key (kept in
 * the data dir, so the peer id survives restarts) and the private-network
 * key derived from the cluster key. Neither is ever logged.
 */

import { hkdfSync } from 'node:crypto'
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { P2PConfigError } from './errors.ts'

/** File name of the identity key inside the data dir. */
export const PEER_KEY_FILE = 'p2p-peer.key'

/** Shortest cluster key accepted, in bytes. */
export const MIN_CLUSTER_KEY_BYTES = 16

/**
 * HKDF-SHA256 `info` of the private-network key. Changing it splits every
 * cluster in two, so it is versioned instead of edited.
 */
const PNET_INFO = 'shoal/p2p/pnet/v1'
const PNET_SALT = 'shoal-cluster-key'

/**
 * The libp2p pre-shared key, in the `/key/swarm/psk/1.0.0/` text format
 * `@libp2p/pnet` reads: 32 bytes from HKDF-SHA256 over the cluster key with
 * a fixed salt and info string. The cluster key itself never reaches libp2p,
 * so a leaked pnet key does not reveal the cluster key (which also
 * authenticates gossip).
 */
export function derivePnetKey(clusterKey: Uint8Array): Uint8Array {
  const psk = Buffer.from(derivePnetPsk(clusterKey))
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${psk.toString('hex')}`)
}

/** The same key as `derivePnetKey`, as its raw 32 bytes (what XSalsa20 is keyed with). */
export function derivePnetPsk(clusterKey: Uint8Array): Uint8Array {
  if (clusterKey.byteLength < MIN_CLUSTER_KEY_BYTES) {
    throw new P2PConfigError(`the cluster key must be at least ${MIN_CLUSTER_KEY_BYTES} bytes`)
  }
  return new Uint8Array(hkdfSync('sha256', clusterKey, PNET_SALT, PNET_INFO, 32))
}

/**
 * Loads the identity key from `dataDir`, or creates an Ed25519 key there
 * (mode 0600, written to a temporary file, fsynced and renamed, so a crash
 * leaves either no key or a whole one). A key file that group or others can
 * read or write is refused: the peer id is the node's identity on the
 * cluster, and whoever holds the key can impersonate it.
 */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE)
  const existing = await readKeyFile(path)
  if (existing !== undefined) return existing
  await mkdir(dataDir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp`
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile(privateKeyToProtobuf(key))
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, path)
  await syncDir(dirname(path))
  return key
}

async function readKeyFile(path: string): Promise<PrivateKey | undefined> {
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if ((mode & 0o077) !== 0) {
    throw new P2PConfigError(
      `${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    )
  }
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (cause) {
    throw new P2PConfigError(`${path} does not hold a libp2p private key`, { cause })
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
