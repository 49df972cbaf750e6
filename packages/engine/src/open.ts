import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { Engine } from './engine.ts'
import { bm25TextIndexes } from './internal/bm25-text-index.ts'
import { hnswVectorIndexes } from './internal/hnsw-vector-index.ts'
import { MemoryCommandLog } from './internal/memory-log.ts'
import { WalCommandLog } from './internal/wal-command-log.ts'
import type { OpenOptions } from './types.ts'

/**
 * Opens (creating when missing) the database in `dir`: `dir/wal` holds the
 * command log, `dir/snapshots` the snapshots. Recovers by loading the newest
 * valid snapshot and replaying the log after it.
 */
export async function open(dir: string, options: OpenOptions = {}): Promise<Engine> {
  await mkdir(dir, { recursive: true })
  const log = await WalCommandLog.open(path.join(dir, 'wal'), {
    sync: options.sync ?? 'always',
    segmentBytes: options.walSegmentBytes,
  })
  return Engine.start(dir, options, { log, components: defaultComponents() })
}

/**
 * Opens a database that keeps no log of its own: the state machine of a replicated log (a shard
 * replica, whose Raft log is the command log). Changes arrive through `apply`, snapshots through
 * `image`/`restoreImage`; it writes no snapshot by itself. `dir` holds nothing durable.
 */
export async function openReplica(dir: string): Promise<Engine> {
  await mkdir(dir, { recursive: true })
  return Engine.start(
    dir,
    { snapshotEvery: 0 },
    { log: new MemoryCommandLog(), components: defaultComponents() },
  )
}

function defaultComponents() {
  return {
    text: bm25TextIndexes,
    vector: hnswVectorIndexes,
    pause: () => new Promise<void>((resolve) => setImmediate(resolve)),
  }
}
