import type { Entry, NodeId, RaftCore } from '../../src/core/index.ts'
import type { MemoryRaftStorage } from '../../src/storage.ts'

export interface CheckedNode {
  readonly id: NodeId
  readonly core: RaftCore | null
  readonly storage: MemoryRaftStorage
}

/** An entry's identity: equal ids mean the same command at the same position. */
const ids = new WeakMap<Entry, string>()

export function entryId(entry: Entry): string {
  let id = ids.get(entry)
  if (id === undefined) {
    id = computeEntryId(entry)
    ids.set(entry, id)
  }
  return id
}

function computeEntryId(entry: Entry): string {
  if (entry.kind === 'conf') return `${entry.term}:conf:${entry.change.type}:${entry.change.node}`
  let text = ''
  for (const byte of entry.data) text += String.fromCharCode(byte)
  return `${entry.term}:${text}`
}

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation'
}

/**
 * The safety properties of Raft (Figure 3 of the paper), checked against the
 * whole cluster after every simulation step:
 * election safety, log matching, leader completeness, state machine safety,
 * and no committed entry lost from durable storage.
 */
export class Invariants {
  /** term -> the member that led it. */
  readonly leaders = new Map<number, NodeId>()
  /** index -> id of the entry committed there (as first seen committed anywhere). */
  readonly committed = new Map<number, string>()
  /**
   * index -> term of the member that first saw it committed: the entry was
   * committed in that term or earlier, so every leader of a later term holds it.
   */
  readonly committedBy = new Map<number, number>()
  /** index -> id of the entry applied there (as first applied anywhere). */
  readonly applied = new Map<number, string>()
  maxCommitted = 0

  /** State machine safety: no two members apply different entries at one index. */
  onApply(node: NodeId, entry: Entry): void {
    const id = entryId(entry)
    const seen = this.applied.get(entry.index)
    if (seen === undefined) this.applied.set(entry.index, id)
    else if (seen !== id)
      throw new InvariantViolation(
        `state machine safety: ${node} applied ${id} at ${entry.index}, another applied ${seen}`,
      )
  }

  check(nodes: readonly CheckedNode[]): void {
    const live = nodes.filter((n) => n.core !== null)
    for (const node of live) this.#checkNode(node, node.core as RaftCore)
    for (let i = 0; i < live.length; i++)
      for (let j = i + 1; j < live.length; j++)
        this.#logMatching(live[i] as CheckedNode, live[j] as CheckedNode)
    for (const node of nodes) this.#durable(node)
  }

  #checkNode(node: CheckedNode, core: RaftCore): void {
    if (core.role === 'leader') {
      const other = this.leaders.get(core.term)
      if (other === undefined) this.leaders.set(core.term, node.id)
      else if (other !== node.id)
        throw new InvariantViolation(`election safety: ${other} and ${node.id} both lead term ${core.term}`)
    }
    const log = core.log
    // Committed entries agree everywhere.
    for (let i = Math.max(log.snapshotIndex + 1, 1); i <= log.committed; i++) {
      const id = entryId(log.entry(i) as Entry)
      const seen = this.committed.get(i)
      if (seen === undefined) {
        this.committed.set(i, id)
        this.committedBy.set(i, core.term)
      } else if (seen !== id)
        throw new InvariantViolation(
          `committed entry changed: ${node.id} has ${id} at ${i}, committed was ${seen}`,
        )
    }
    this.maxCommitted = Math.max(this.maxCommitted, log.committed)
    if (core.role !== 'leader') return
    // Leader completeness (Raft §5.4): a leader holds every committed entry.
    for (let i = log.snapshotIndex + 1; i <= this.maxCommitted; i++) {
      const want = this.committed.get(i)
      if (want === undefined || (this.committedBy.get(i) as number) >= core.term) continue
      const entry = log.entry(i)
      if (entry === undefined || entryId(entry) !== want)
        throw new InvariantViolation(
          `leader completeness: leader ${node.id} (term ${core.term}) lacks committed ${want} at ${i}`,
        )
    }
  }

  /** Log matching (Raft §5.3): same index and term imply identical prefixes. */
  #logMatching(a: CheckedNode, b: CheckedNode): void {
    const la = (a.core as RaftCore).log
    const lb = (b.core as RaftCore).log
    const low = Math.max(la.snapshotIndex, lb.snapshotIndex) + 1
    let i = Math.min(la.lastIndex(), lb.lastIndex())
    while (i >= low && la.term(i) !== lb.term(i)) i--
    for (; i >= low; i--) {
      const ea = la.entry(i) as Entry
      const eb = lb.entry(i) as Entry
      if (ea !== eb && entryId(ea) !== entryId(eb))
        throw new InvariantViolation(
          `log matching: ${a.id} and ${b.id} differ at ${i}: ${entryId(ea)} vs ${entryId(eb)}`,
        )
    }
  }

  /** No committed entry lost: what a member's durable commit index covers is in its durable log. */
  #durable(node: CheckedNode): void {
    const storage = node.storage
    const commit = storage.hardState.commit
    for (let i = storage.snapshotMeta.index + 1; i <= commit; i++) {
      const entry = storage.entry(i)
      if (entry === undefined)
        throw new InvariantViolation(`durability: ${node.id} stored commit ${commit} but lacks entry ${i}`)
      const want = this.committed.get(i)
      if (want !== undefined && entryId(entry) !== want)
        throw new InvariantViolation(
          `durability: ${node.id} stored ${entryId(entry)} at ${i}, committed ${want}`,
        )
    }
  }
}
