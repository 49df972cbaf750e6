import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { Engine } from './engine.ts'
import { bm25TextIndexes } from './internal/bm25-text-index.ts'
import { hnswVectorIndexes } from './internal/hnsw-vector-index.ts'
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
  return Engine.start(dir, options, {
    log,
    components: {
      text: bm25TextIndexes,
      vector: hnswVectorIndexes,
      pause: () => new Promise((resolve) => setImmediate(resolve)),
    },
  })
}
