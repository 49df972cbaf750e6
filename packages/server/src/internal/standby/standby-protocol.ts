import type { PeerAddress } from '../p2p/index.ts'

/**
 * The messages of the hot standby link, carried by `/shoal/rpc/1` (requests) and
 * `/shoal/snapshot/1` (catch-up snapshots) between a primary and its standby, under the cluster
 * key's private network. Every request is `[kind, body]`.
 *
 * `fetch` is the whole replication protocol: the standby asks for the primary's log from `from`,
 * which also says that everything before `from` is durable on the standby (the primary's
 * semi_sync acknowledgement). The primary answers at once when it has entries, else when one is
 * appended or `waitMs` passes (a long poll).
 */
export type StandbyRequest =
  | ['standby.fetch', FetchRequest]
  | ['standby.snapshot', { epoch: number; peer: PeerAddress }]
  | ['standby.status', Record<string, never>]
  | ['standby.fence', { epoch: number }]

export interface FetchRequest {
  /** The highest epoch the standby knows. */
  epoch: number
  /** The primary log index wanted next; everything before it is durable on the standby. */
  from: number
  maxBytes: number
  waitMs: number
  /** Where the primary reaches the standby (snapshots, epoch checks). */
  peer: PeerAddress
}

export type FetchResponse =
  | {
      epoch: number
      /** `entries[i]` is the primary's log entry `from + i`. */
      entries: Uint8Array[]
      /** The primary's last durable log index. */
      lastIndex: number
      nextTaskUid: number
    }
  | { epoch: number; snapshotNeeded: true; lastIndex: number; nextTaskUid: number }

export interface StatusResponse {
  role: 'primary' | 'standby' | 'fenced'
  epoch: number
}

/** Meta of the snapshot stream a primary sends its standby. */
export interface StandbySnapshotMeta {
  standbySnapshot: 1
  epoch: number
  nextTaskUid: number
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

export function isPeerAddress(value: unknown): value is PeerAddress {
  return (
    isRecord(value) &&
    typeof value.peerId === 'string' &&
    Array.isArray(value.addrs) &&
    value.addrs.length <= 16 &&
    value.addrs.every((a) => typeof a === 'string')
  )
}

/** The request as a typed value, or undefined when it is not one of ours (answered `bad_request`). */
export function parseStandbyRequest(body: unknown): StandbyRequest | undefined {
  if (!Array.isArray(body) || body.length !== 2 || !isRecord(body[1])) return undefined
  const [kind, args] = body as [unknown, Record<string, unknown>]
  switch (kind) {
    case 'standby.fetch':
      return isCount(args.epoch) &&
        isCount(args.from) &&
        args.from >= 1 &&
        isCount(args.maxBytes) &&
        isCount(args.waitMs) &&
        isPeerAddress(args.peer)
        ? ['standby.fetch', args as unknown as FetchRequest]
        : undefined
    case 'standby.snapshot':
      return isCount(args.epoch) && isPeerAddress(args.peer)
        ? ['standby.snapshot', { epoch: args.epoch, peer: args.peer }]
        : undefined
    case 'standby.status':
      return ['standby.status', {}]
    case 'standby.fence':
      return isCount(args.epoch) ? ['standby.fence', { epoch: args.epoch }] : undefined
    default:
      return undefined
  }
}

export function isFetchResponse(value: unknown): value is FetchResponse {
  if (!isRecord(value) || !isCount(value.epoch) || !isCount(value.lastIndex) || !isCount(value.nextTaskUid))
    return false
  if (value.snapshotNeeded === true) return true
  return Array.isArray(value.entries) && value.entries.every((e) => e instanceof Uint8Array)
}

export function isStatusResponse(value: unknown): value is StatusResponse {
  return (
    isRecord(value) && ['primary', 'standby', 'fenced'].includes(String(value.role)) && isCount(value.epoch)
  )
}

export function isStandbySnapshotMeta(value: unknown): value is StandbySnapshotMeta {
  return isRecord(value) && value.standbySnapshot === 1 && isCount(value.epoch) && isCount(value.nextTaskUid)
}
