import type { Doc, EnginePort, Filter, Settings } from './engine-port.ts'

/**
 * Where a dump (`POST /dumps`) or an export (`POST /export`) reads indexes from: a standalone
 * node's engine (one part per index), or a cluster's shards (one part per shard, each read from
 * an image its leader took at one applied index: cluster/shard-images.ts). The writer of the
 * dump or export sees the same calls either way.
 */

/** One index as the source lists it. */
export interface IndexHead {
  readonly uid: string
  readonly primaryKey: string | null
  /** The index's sharding on a cluster (kept in dumps); absent on a standalone node. */
  readonly sharding?: Readonly<Record<string, unknown>>
}

/** One readable part of an index: the whole index, or one shard of it, as of one point. */
export interface IndexPart {
  settings(): Promise<Settings>
  /** A page of the part's documents with their vectors, `filter` applied. */
  documents(page: { offset: number; limit: number; filter?: Filter }): Promise<Doc[]>
}

export interface IndexSource {
  /** Every index to read, in the order they are written. */
  indexes(): Promise<readonly IndexHead[]>
  /**
   * Calls `visit` for each part of the index in turn, the first with `position` 0. A part is
   * valid only during its visit (a shard image is dropped after it).
   */
  readParts(uid: string, visit: (part: IndexPart, position: number) => Promise<void>): Promise<void>
}

/**
 * A standalone node's engine: every index is one part. The node's task queue runs one task at a
 * time, so no write changes an index while a dump or export task reads it.
 */
export function engineIndexSource(engine: EnginePort): IndexSource {
  return {
    async indexes() {
      return engine.listIndexes().map((info) => ({ uid: info.uid, primaryKey: info.primaryKey }))
    },
    async readParts(uid, visit) {
      const index = engine.index(uid)
      await visit(
        {
          settings: async () => index.getSettings(),
          documents: async ({ offset, limit, filter }) =>
            (
              await index.getDocuments({
                offset,
                limit,
                retrieveVectors: true,
                ...(filter === undefined ? {} : { filter }),
              })
            ).results,
        },
        0,
      )
    },
  }
}
