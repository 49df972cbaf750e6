import type { DigestEntry, Doc, Index } from '@shoal/engine'
import type { EngineShardMachine } from './shard-machine.ts'

/**
 * What one shard replica answers to anti-entropy (the `antiEntropy` shard action of
 * `/shoal/rpc/1`, see shard-rpc.ts). Every answer names the replica's entry position (the log
 * index of the last entry it applied): the coordinator compares only answers taken at the same
 * position, and a replica that is applying something at that moment answers `anti_entropy_busy`
 * so that the coordinator asks again.
 */
export type AntiEntropyRequest =
  /** Merkle node hashes at one level. */
  | { readonly op: 'nodes'; readonly level: number; readonly positions: readonly number[] }
  /** The (id key, hash) pairs of the documents in these buckets. */
  | { readonly op: 'entries'; readonly buckets: readonly number[] }
  /** The stored documents under these id keys (null: none). */
  | { readonly op: 'documents'; readonly keys: readonly string[] }
  /**
   * Brings the replica's documents to the majority's: replaces (or adds) `put`, deletes
   * `delete`; only when the replica is still at `position`.
   */
  | {
      readonly op: 'repair'
      readonly position: number
      readonly put: readonly Doc[]
      readonly delete: readonly string[]
    }

export type AntiEntropyAnswer =
  | { readonly op: 'nodes'; readonly position: number; readonly hashes: string[] }
  | { readonly op: 'entries'; readonly position: number; readonly entries: DigestEntry[] }
  | { readonly op: 'documents'; readonly position: number; readonly documents: (Doc | null)[] }
  | { readonly op: 'repair'; readonly position: number; readonly repaired: boolean }

/** Most positions, buckets or keys one request may name. */
export const MAX_ITEMS_PER_REQUEST = 4096

/** A typed refusal the shard rpc layer passes back as `{ ok: false, code, httpStatus }`. */
function refusal(code: string, httpStatus: number, message: string): Error {
  return Object.assign(new Error(message), { code, httpStatus })
}

/** Serves one anti-entropy request from this replica (`index` is the shard's index on it). */
export async function serveAntiEntropy(
  machine: EngineShardMachine,
  indexUid: string,
  index: Index,
  request: AntiEntropyRequest,
): Promise<AntiEntropyAnswer> {
  checkRequest(request)
  if (request.op === 'repair') return repairReplica(machine, indexUid, request)
  const position = machine.position()
  if (position === null)
    throw refusal('anti_entropy_busy', 503, 'the replica is applying an entry; ask again')
  // Reads are synchronous: the state cannot move between the position and the answer.
  switch (request.op) {
    case 'nodes':
      return { op: 'nodes', position, hashes: index.merkleNodes(request.level, request.positions) }
    case 'entries':
      return { op: 'entries', position, entries: index.merkleEntries(request.buckets) }
    case 'documents':
      return { op: 'documents', position, documents: index.storedDocuments(request.keys) }
  }
}

/**
 * Applies a repair directly to the replica's engine, outside the Raft log: it is the repair of a
 * corruption (the replica's state no longer followed from the log), bringing the replica back
 * to the state every other replica holds at the same position. It runs between two applies and
 * only if no entry was applied since the comparison; later entries then apply to the repaired
 * state, as on the other replicas. It is journaled so that a restart keeps it
 * (replica-repairs.ts). The index's `updatedAt` is kept.
 */
async function repairReplica(
  machine: EngineShardMachine,
  indexUid: string,
  request: Extract<AntiEntropyRequest, { op: 'repair' }>,
): Promise<AntiEntropyAnswer> {
  const repaired = await machine.repair(request.position, {
    indexUid,
    put: request.put,
    delete: request.delete,
  })
  return { op: 'repair', position: request.position, repaired }
}

function checkRequest(request: AntiEntropyRequest): void {
  const list = (value: unknown, what: string, item: (x: unknown) => boolean) => {
    if (!Array.isArray(value) || value.length > MAX_ITEMS_PER_REQUEST || !value.every(item))
      throw refusal(
        'invalid_anti_entropy_request',
        400,
        `\`${what}\` must be a list of at most ${MAX_ITEMS_PER_REQUEST}`,
      )
  }
  const integer = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0
  const text = (x: unknown) => typeof x === 'string'
  switch (request?.op) {
    case 'nodes':
      if (!integer(request.level))
        throw refusal('invalid_anti_entropy_request', 400, '`level` must be an integer')
      list(request.positions, 'positions', integer)
      break
    case 'entries':
      list(request.buckets, 'buckets', integer)
      break
    case 'documents':
      list(request.keys, 'keys', text)
      break
    case 'repair':
      if (!integer(request.position))
        throw refusal('invalid_anti_entropy_request', 400, '`position` must be an integer')
      list(request.put, 'put', (doc) => typeof doc === 'object' && doc !== null && !Array.isArray(doc))
      list(request.delete, 'delete', text)
      break
    default:
      throw refusal('invalid_anti_entropy_request', 400, 'unknown anti-entropy request')
  }
}
