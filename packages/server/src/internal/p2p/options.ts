import type { Registry } from 'prom-client'
import { P2PConfigError } from './errors.ts'
import { FRAME_HEADER_BYTES } from './frame.ts'
import { MIN_CLUSTER_KEY_BYTES } from './keys.ts'

/** The subset of pino's logger the transport uses. */
export interface P2PLogger {
  debug(fields: object, message: string): void
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

export interface HostPort {
  host: string
  port: number
}

export interface P2PNodeOptions {
  /** Holds the libp2p identity key (`p2p-peer.key`, mode 0600), so the peer id survives restarts. */
  dataDir: string
  /**
   * The cluster secret, at least 16 bytes. The private-network key is derived
   * from it (HKDF-SHA256); it is never used or logged as it is.
   */
  clusterKey: Uint8Array
  /**
   * More cluster keys accepted from peers (a rotation in progress); the node
   * itself sends with `clusterKey`. @defaultValue []
   */
  acceptedClusterKeys?: readonly Uint8Array[]
  /** Where to listen for TCP. Port 0 picks an ephemeral port. */
  listen: HostPort
  /** The address advertised to others (for example a proxy in between). @defaultValue the listen addresses */
  announce?: HostPort
  /** Largest frame body accepted or sent, in bytes. @defaultValue 16 MiB */
  maxFrameBytes?: number
  /** Bytes of Raft frames queued per peer before new ones are dropped. @defaultValue 64 MiB */
  peerQueueBytes?: number
  /** Raft frames queued per peer before new ones are dropped. @defaultValue 4096 */
  peerQueueFrames?: number
  /** Time to open a connection (TCP + pnet + Noise + Yamux) and a stream. @defaultValue 5000 */
  dialTimeoutMs?: number
  /** Time an inbound connection has to finish its handshake. @defaultValue 5000 */
  handshakeTimeoutMs?: number
  /** After a failed dial, Raft frames to that peer are dropped for this long. @defaultValue 500 */
  redialBackoffMs?: number
  /** Default `timeoutMs` of `request()`. @defaultValue 10000 */
  requestTimeoutMs?: number
  /**
   * Snapshot chunks larger than this are cut before sending; at most
   * `maxFrameBytes - 64` (room for the chunk's index and CRC32).
   * @defaultValue min(1 MiB, maxFrameBytes - 64)
   */
  snapshotChunkBytes?: number
  /** Bytes of received snapshot chunks buffered ahead of the handler before the stream is paused. @defaultValue 4 MiB */
  snapshotWindowBytes?: number
  /** A repeated warning (drops for one peer, handshake failures) is logged at most once per interval. @defaultValue 10000 */
  logIntervalMs?: number
  /**
   * Requests from one peer whose handlers run at once; past it, that peer's
   * rpc stream is paused until one finishes. @defaultValue 256
   */
  maxInboundRequests?: number
  logger?: P2PLogger
  /** Where the `shoal_p2p_*` metrics are registered. @defaultValue a registry of the node's own */
  registry?: Registry
  /** Run gossipsub on this node (`P2PNode.pubsub`): the inter-region feed. @defaultValue false */
  pubsub?: boolean
}

export type ResolvedP2POptions = Required<Omit<P2PNodeOptions, 'announce' | 'registry'>> &
  Pick<P2PNodeOptions, 'announce' | 'registry'>

const MiB = 1024 * 1024

export const P2P_DEFAULTS = Object.freeze({
  maxFrameBytes: 16 * MiB,
  peerQueueBytes: 64 * MiB,
  peerQueueFrames: 4096,
  dialTimeoutMs: 5000,
  handshakeTimeoutMs: 5000,
  redialBackoffMs: 500,
  requestTimeoutMs: 10_000,
  snapshotChunkBytes: MiB,
  snapshotWindowBytes: 4 * MiB,
  logIntervalMs: 10_000,
  maxInboundRequests: 256,
  pubsub: false,
})

/** The largest body the u32 length field can describe, less the header. */
const MAX_FRAME_BYTES_LIMIT = 2 ** 32 - 1 - FRAME_HEADER_BYTES

export const silentLogger: P2PLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
}

/** Fills defaults and validates relations. Throws `P2PConfigError`. */
export function resolveP2POptions(options: P2PNodeOptions): ResolvedP2POptions {
  const given = stripUndefined(options)
  const resolved: ResolvedP2POptions = {
    ...P2P_DEFAULTS,
    logger: silentLogger,
    acceptedClusterKeys: [],
    ...given,
  }
  if (given.snapshotChunkBytes === undefined && typeof resolved.maxFrameBytes === 'number') {
    resolved.snapshotChunkBytes = Math.min(P2P_DEFAULTS.snapshotChunkBytes, resolved.maxFrameBytes - 64)
  }
  if (typeof resolved.dataDir !== 'string' || resolved.dataDir === '') {
    throw new P2PConfigError('dataDir is required')
  }
  if (
    !(resolved.clusterKey instanceof Uint8Array) ||
    resolved.clusterKey.byteLength < MIN_CLUSTER_KEY_BYTES
  ) {
    throw new P2PConfigError(`clusterKey must be a Uint8Array of at least ${MIN_CLUSTER_KEY_BYTES} bytes`)
  }
  for (const key of resolved.acceptedClusterKeys) {
    if (!(key instanceof Uint8Array) || key.byteLength < MIN_CLUSTER_KEY_BYTES)
      throw new P2PConfigError(`every accepted cluster key must be at least ${MIN_CLUSTER_KEY_BYTES} bytes`)
  }
  checkHostPort('listen', resolved.listen)
  if (resolved.announce !== undefined) {
    checkHostPort('announce', resolved.announce)
    if (resolved.announce.port === 0) throw new P2PConfigError('announce.port must not be 0')
  }
  checkInt('maxFrameBytes', resolved.maxFrameBytes, 1024, MAX_FRAME_BYTES_LIMIT)
  checkInt('peerQueueBytes', resolved.peerQueueBytes, 1, Number.MAX_SAFE_INTEGER)
  if (resolved.peerQueueBytes < resolved.maxFrameBytes + FRAME_HEADER_BYTES) {
    throw new P2PConfigError(
      'peerQueueBytes must hold at least one frame of maxFrameBytes plus its 6-byte header',
    )
  }
  checkInt('peerQueueFrames', resolved.peerQueueFrames, 1, Number.MAX_SAFE_INTEGER)
  for (const name of [
    'dialTimeoutMs',
    'handshakeTimeoutMs',
    'requestTimeoutMs',
    'logIntervalMs',
    'maxInboundRequests',
  ] as const) {
    checkInt(name, resolved[name], 1, 2 ** 31 - 1)
  }
  checkInt('redialBackoffMs', resolved.redialBackoffMs, 0, 2 ** 31 - 1)
  checkInt('snapshotChunkBytes', resolved.snapshotChunkBytes, 1, resolved.maxFrameBytes - 64)
  checkInt('snapshotWindowBytes', resolved.snapshotWindowBytes, 1, 2 ** 31 - 1)
  return resolved
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

function checkHostPort(name: string, value: HostPort | undefined): void {
  if (value === undefined || typeof value.host !== 'string' || value.host === '') {
    throw new P2PConfigError(`${name}.host is required`)
  }
  checkInt(`${name}.port`, value.port, 0, 65535)
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new P2PConfigError(`${name} must be an integer in [${min}, ${max}], got ${value}`)
  }
}
