import type { EngineShardMachine } from './shard-machine.ts'

/**
 * The shard side of a cluster backup. The coordinator asks the shard's leader, after a ReadIndex
 * round (`leader` read mode), for `backupImage`: the leader waits until no apply is under way,
 * takes the engine's image synchronously (exactly the state after the last applied entry, which
 * is at or past the read index, so every write acknowledged before the request is in it), keeps
 * it for the coordinator and answers its first chunk; `backupChunk` answers the rest. Chunks keep
 * each answer well under the transport's frame limit.
 */

/** Bytes of an image per answer. */
export const BACKUP_CHUNK_BYTES = 4 * 1024 * 1024
/** An image not fully fetched is dropped after this long (a coordinator that died). */
const HELD_IMAGE_MS = 10 * 60_000
/** How long the leader waits for a running apply to end before taking the image. */
const IDLE_WAIT_MS = 10_000

export interface BackupImageHead {
  readonly node: string
  readonly totalBytes: number
  /** The shard's Raft log index the image holds every entry up to. */
  readonly appliedIndex: number
  readonly documents: number
  readonly chunk: Uint8Array
}

const held = new Map<string, { bytes: Uint8Array; timer: ReturnType<typeof setTimeout> }>()

function holdKey(token: string, group: string): string {
  return `${token}/${group}`
}

export async function serveBackupImage(
  machine: EngineShardMachine,
  nodeId: string,
  group: string,
  indexUid: string,
  token: string,
): Promise<BackupImageHead> {
  const deadline = Date.now() + IDLE_WAIT_MS
  while (machine.position() === null) {
    if (Date.now() > deadline) throw new Error('the shard replica stayed busy applying entries')
    await new Promise((resolve) => setImmediate(resolve))
  }
  // Taken in one turn with the position: no apply can come in between.
  const appliedIndex = machine.position() ?? 0
  const bytes = machine.engine.image()
  const documents = machine.engine.stats().indexes[indexUid]?.numberOfDocuments ?? 0
  const key = holdKey(token, group)
  const previous = held.get(key)
  if (previous !== undefined) clearTimeout(previous.timer)
  const timer = setTimeout(() => held.delete(key), HELD_IMAGE_MS)
  timer.unref()
  held.set(key, { bytes, timer })
  return {
    node: nodeId,
    totalBytes: bytes.byteLength,
    appliedIndex,
    documents,
    chunk: takeChunk(key, 0),
  }
}

export function serveBackupChunk(group: string, token: string, offset: number): Uint8Array {
  return takeChunk(holdKey(token, group), offset)
}

function takeChunk(key: string, offset: number): Uint8Array {
  const entry = held.get(key)
  if (entry === undefined) throw new Error('no backup image is held for this request (expired?)')
  const end = Math.min(entry.bytes.byteLength, offset + BACKUP_CHUNK_BYTES)
  const chunk = entry.bytes.subarray(offset, end)
  if (end >= entry.bytes.byteLength) {
    clearTimeout(entry.timer)
    held.delete(key)
  }
  return chunk
}
