import {
  type ConfState,
  type Entry,
  type HardState,
  NO_BYTES,
  type NodeId,
  type Snapshot,
} from './core/index.ts'

/** A member's durable state as recovered at start. */
export interface StoredState {
  readonly hardState: HardState
  /** The latest snapshot; a fresh member reports one at index 0 with its initial membership. */
  readonly snapshot: Snapshot
  /** Entries after the snapshot, contiguous. */
  readonly entries: Entry[]
}

/** What one `Ready` asks to persist. */
export interface PersistBatch {
  readonly hardState: HardState | null
  /** Replace every stored entry from the first one's index on. */
  readonly entries: readonly Entry[]
  /** A snapshot received from the leader: replaces the whole log. */
  readonly snapshot: Snapshot | null
}

/**
 * Durable storage for one Raft member. Ownership: the member is the only
 * writer. Every returned promise resolves only once the data is durable (on a
 * disk: fsync'd); the driver sends no message before `save` resolves. A
 * failure rejects with an error and the member must stop: its durable state
 * is then unknown.
 */
export interface RaftStorage {
  /** Recovers the stored state. Called once, before anything else. */
  load(): Promise<StoredState>
  /** Durably stores a snapshot (if any), then the entries, then the hard state. */
  save(batch: PersistBatch): Promise<void>
  /** Durably stores a locally taken snapshot and discards the entries it covers. */
  saveSnapshot(snapshot: Snapshot): Promise<void>
  close(): Promise<void>
  /**
   * Forgets everything stored for the member, durably (its replica was removed and will not come
   * back as it was). Called after `close()`; a later `load()` of the same member finds nothing.
   * Optional: a storage without it keeps its state.
   */
  destroy?(): Promise<void>
}

/**
 * The state of a member that has never run. Founding members (a non-empty
 * `confState`) start with the initial membership as committed configuration
 * entries at term 1, identical on every founder, so a member added later
 * learns it by replication like any other entry (etcd's bootstrap). A member
 * that joins an existing group starts empty and is brought up to date by the
 * leader.
 */
export function initialState(confState: ConfState): StoredState {
  const entries: Entry[] = []
  for (const node of confState.voters) entries.push(foundingEntry(entries.length + 1, 'addVoter', node))
  for (const node of confState.learners) entries.push(foundingEntry(entries.length + 1, 'addLearner', node))
  const empty: ConfState = { voters: [], learners: [] }
  return {
    hardState: { term: entries.length > 0 ? 1 : 0, vote: null, commit: entries.length },
    snapshot: { meta: { index: 0, term: 0, confState: empty }, data: NO_BYTES },
    entries,
  }
}

/**
 * Founding entries are the same in every group founded by the same members,
 * and entries are never modified: the groups of a host share one frozen
 * object per (index, change) instead of holding about 90 bytes each. Only
 * term-1 entries are shared, so the cache is bounded by the founding
 * positions times the node ids seen.
 */
const foundingEntries = new Map<string, Entry>()

export function foundingEntry(index: number, type: 'addVoter' | 'addLearner', node: NodeId): Entry {
  const key = `${index}\u0000${type}\u0000${node}`
  let entry = foundingEntries.get(key)
  if (entry === undefined) {
    entry = Object.freeze({ kind: 'conf', term: 1, index, change: Object.freeze({ type, node }) })
    foundingEntries.set(key, entry)
  }
  return entry
}

/**
 * In-memory `RaftStorage` for tests and simulations. "Durable" here means
 * "survives a simulated crash": a restarted member reads back exactly what was
 * saved. Synchronous twins of the methods let a deterministic simulation skip
 * the event loop.
 */
export class MemoryRaftStorage implements RaftStorage {
  #hardState: HardState
  #snapshot: Snapshot
  #entries: Entry[]

  constructor(initial: StoredState) {
    this.#hardState = initial.hardState
    this.#snapshot = initial.snapshot
    this.#entries = [...initial.entries]
  }

  static bootstrap(confState: ConfState): MemoryRaftStorage {
    return new MemoryRaftStorage(initialState(confState))
  }

  loadSync(): StoredState {
    return { hardState: this.#hardState, snapshot: this.#snapshot, entries: [...this.#entries] }
  }

  saveSync(batch: PersistBatch): void {
    if (batch.snapshot !== null) {
      this.#snapshot = batch.snapshot
      this.#entries = []
    }
    const first = batch.entries[0]
    if (first !== undefined) {
      const keep = first.index - this.#snapshot.meta.index - 1
      if (keep < 0 || keep > this.#entries.length)
        throw new RangeError(`entry ${first.index} does not follow the log`)
      this.#entries.length = keep
      this.#entries.push(...batch.entries)
    }
    if (batch.hardState !== null) this.#hardState = batch.hardState
  }

  saveSnapshotSync(snapshot: Snapshot): void {
    const drop = snapshot.meta.index - this.#snapshot.meta.index
    if (drop <= 0) return
    this.#entries = this.#entries.slice(drop)
    this.#snapshot = snapshot
  }

  /** The stored hard state (for tests and invariant checks). */
  get hardState(): HardState {
    return this.#hardState
  }

  get snapshotMeta(): Snapshot['meta'] {
    return this.#snapshot.meta
  }

  /** The stored entry at `index`, if present. */
  entry(index: number): Entry | undefined {
    return this.#entries[index - this.#snapshot.meta.index - 1]
  }

  async load(): Promise<StoredState> {
    return this.loadSync()
  }

  async save(batch: PersistBatch): Promise<void> {
    this.saveSync(batch)
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.saveSnapshotSync(snapshot)
  }

  async close(): Promise<void> {}
}
