import type { NormalEntry, StateMachine } from '@shoal/raft'
import { decodeCommand, decodeState, encodeState } from './codec.ts'
import type {
  ApplyOutcome,
  IndexRecord,
  MetadataCommand,
  MetadataState,
  NodeRecord,
  RejectReason,
  ShardRecord,
  ShardReplica,
  TaskRecord,
} from './types.ts'
import { isMetadataCommand } from './validate.ts'

export function emptyMetadata(): MetadataState {
  return {
    clusterId: null,
    clusterName: null,
    version: 0,
    nodes: {},
    indexes: {},
    shards: {},
    apiKeys: {},
    settings: {},
  }
}

/** The name an index's shards know it by (see `IndexRecord.shardName`). */
export function shardNameOf(index: Pick<IndexRecord, 'uid' | 'shardName'>): string {
  return index.shardName ?? index.uid
}

function sameReplicas(a: readonly ShardReplica[], b: readonly ShardReplica[]): boolean {
  return (
    a.length === b.length &&
    a.every((r, i) => r.nodeId === b[i]?.nodeId && r.role === b[i]?.role && r.state === b[i]?.state)
  )
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** Statuses after which a task never changes again. */
export const ENDED_TASK_STATUSES: readonly string[] = ['succeeded', 'failed', 'canceled']

/** Ended tasks kept in the task list; the oldest ended ones are forgotten beyond this. */
export const MAX_ENDED_TASKS = 10_000

/**
 * The metadata group's state machine. `apply` is deterministic: it reads only
 * the command (whose `atMs` the proposer set) and the current state. A refused
 * command changes nothing, not even the version. The state is replaced, never
 * mutated in place, so a `MetadataState` handed out stays valid.
 */
export class MetadataStateMachine implements StateMachine {
  #state: MetadataState = emptyMetadata()
  #appliedIndex = 0
  /** The task list in uid order (mutated in place: tasks are many; read them through `task`/`tasks`). */
  #tasks = new Map<number, TaskRecord>()
  #payloads = new Map<number, Uint8Array>()
  #nextTaskUid = 0
  #endedTasks = 0
  readonly #listeners = new Set<(state: MetadataState, appliedIndex: number) => void>()

  get state(): MetadataState {
    return this.#state
  }

  /** The log index of the last entry applied (0 before any). */
  get appliedIndex(): number {
    return this.#appliedIndex
  }

  /** A task by uid, as of the last applied entry. */
  task(uid: number): TaskRecord | undefined {
    return this.#tasks.get(uid)
  }

  /** Every task kept, oldest first. */
  tasks(): IterableIterator<TaskRecord> {
    return this.#tasks.values()
  }

  /** The input of a task that has not ended yet. */
  taskPayload(uid: number): Uint8Array | undefined {
    return this.#payloads.get(uid)
  }

  /** The uid the next enqueued task gets. */
  get nextTaskUid(): number {
    return this.#nextTaskUid
  }

  /** Called after every applied entry and every restore; returns the unsubscribe function. */
  onChange(listener: (state: MetadataState, appliedIndex: number) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  apply(entry: NormalEntry): ApplyOutcome | undefined {
    this.#appliedIndex = entry.index
    // A new leader's no-op (Raft §8) carries no command.
    if (entry.data.length === 0) return undefined
    let decoded: unknown
    try {
      decoded = decodeCommand(entry.data)
    } catch {
      return this.#reject('malformed', 'undecodable metadata command')
    }
    const outcome = isMetadataCommand(decoded)
      ? this.applyCommand(decoded)
      : this.#reject('malformed', 'malformed metadata command')
    this.#emit()
    return outcome
  }

  /** Applies a decoded command (also used by simulations that skip the codec). */
  applyCommand(command: MetadataCommand): ApplyOutcome {
    const state = this.#state
    if (command.type === 'init') {
      if (state.clusterId !== null) {
        return state.clusterId === command.clusterId
          ? { ok: true, version: state.version }
          : this.#reject('already_initialised', `the cluster is already initialised as ${state.clusterId}`)
      }
      return this.#commit({ clusterId: command.clusterId, clusterName: command.name })
    }
    if (state.clusterId === null) return this.#reject('not_initialised', 'the cluster is not initialised')
    switch (command.type) {
      case 'node.join': {
        const previous = state.nodes[command.node.id]
        const record: NodeRecord = {
          ...command.node,
          state:
            previous === undefined || previous.state === 'left'
              ? 'active'
              : previous.state === 'dead'
                ? 'active'
                : previous.state,
          joinedAtMs: previous?.joinedAtMs ?? command.atMs,
          updatedAtMs: command.atMs,
        }
        return this.#commit({ nodes: { ...state.nodes, [record.id]: record } })
      }
      case 'node.state': {
        const node = state.nodes[command.nodeId]
        if (node === undefined) return this.#reject('unknown_node', `no node ${command.nodeId}`)
        if (command.ifState !== undefined && !command.ifState.includes(node.state)) {
          return this.#reject('precondition_failed', `node ${command.nodeId} is ${node.state}`)
        }
        if (node.state === command.state) return { ok: true, version: state.version }
        const record = { ...node, state: command.state, updatedAtMs: command.atMs }
        return this.#commit({ nodes: { ...state.nodes, [node.id]: record } })
      }
      case 'node.remove': {
        if (state.nodes[command.nodeId] === undefined)
          return this.#reject('unknown_node', `no node ${command.nodeId}`)
        const { [command.nodeId]: _removed, ...nodes } = state.nodes
        return this.#commit({ nodes })
      }
      case 'index.create': {
        if (state.indexes[command.index.uid] !== undefined) {
          return this.#reject('index_exists', `index ${command.index.uid} already exists`)
        }
        // A renamed index keeps its shards' names: a new one must not take the same groups.
        for (const other of Object.values(state.indexes))
          if (shardNameOf(other) === command.index.uid && other.createdAtMs === command.atMs)
            return this.#reject('index_exists', `shards named ${command.index.uid} exist already`)
        const index = { ...command.index, createdAtMs: command.atMs, updatedAtMs: command.atMs }
        const indexes = { ...state.indexes, [index.uid]: index }
        if (command.shards === undefined) return this.#commit({ indexes })
        return this.#commit({ indexes, shards: { ...state.shards, [index.uid]: command.shards } })
      }
      case 'index.update': {
        const index = state.indexes[command.uid]
        if (index === undefined) return this.#reject('unknown_index', `no index ${command.uid}`)
        let sharding = index.sharding
        if (command.replicationFactor !== undefined)
          sharding = { ...sharding, replicationFactor: command.replicationFactor }
        if (command.requireCapabilities !== undefined) {
          const lacking = nodesLacking(state, command.uid, command.requireCapabilities)
          if (lacking.length > 0)
            return this.#reject(
              'missing_capability',
              `index ${command.uid} has replicas on ${lacking.join(', ')}, without the capability ${command.requireCapabilities.join(', ')}`,
            )
          const required = [
            ...new Set([...(sharding.placement?.capabilities ?? []), ...command.requireCapabilities]),
          ]
          sharding = { ...sharding, placement: { ...sharding.placement, capabilities: required.sort() } }
        }
        const updated = {
          ...index,
          ...(command.primaryKey === undefined ? {} : { primaryKey: command.primaryKey }),
          ...(command.settings === undefined ? {} : { settings: command.settings }),
          sharding,
          updatedAtMs: command.atMs,
        }
        return this.#commit({ indexes: { ...state.indexes, [index.uid]: updated } })
      }
      case 'index.delete': {
        if (state.indexes[command.uid] === undefined)
          return this.#reject('unknown_index', `no index ${command.uid}`)
        const { [command.uid]: _index, ...indexes } = state.indexes
        const { [command.uid]: _shards, ...shards } = state.shards
        return this.#commit({ indexes, shards })
      }
      case 'index.swap':
        return this.#swap(command)
      case 'shards.set': {
        if (state.indexes[command.uid] === undefined)
          return this.#reject('unknown_index', `no index ${command.uid}`)
        return this.#commit({ shards: { ...state.shards, [command.uid]: command.shards } })
      }
      case 'shard.update': {
        const index = state.indexes[command.uid]
        if (index === undefined || index.createdAtMs !== command.createdAtMs)
          return this.#reject('unknown_index', `no index ${command.uid} created at ${command.createdAtMs}`)
        const shards = state.shards[command.uid] ?? []
        const position = shards.findIndex((s) => s.shard === command.shard)
        const current = shards[position]
        if (current === undefined)
          return this.#reject('unknown_shard', `index ${command.uid} has no shard ${command.shard}`)
        if (!sameReplicas(current.replicas, command.expect))
          return this.#reject('precondition_failed', `shard ${command.shard} of ${command.uid} changed`)
        const updated = [...shards]
        updated[position] = { ...current, replicas: command.replicas.map((r) => ({ ...r })) }
        return this.#commit({ shards: { ...state.shards, [command.uid]: updated } })
      }
      case 'apiKey.put':
        return this.#commit({ apiKeys: { ...state.apiKeys, [command.key.uid]: command.key } })
      case 'apiKey.delete': {
        if (state.apiKeys[command.uid] === undefined)
          return this.#reject('unknown_key', `no API key ${command.uid}`)
        const { [command.uid]: _key, ...apiKeys } = state.apiKeys
        return this.#commit({ apiKeys })
      }
      case 'setting.put':
        return this.#commit({ settings: { ...state.settings, [command.key]: command.value } })
      case 'setting.delete': {
        const { [command.key]: _value, ...settings } = state.settings
        return this.#commit({ settings })
      }
      case 'task.enqueue': {
        const uid = this.#nextTaskUid++
        const task = { ...command.task, uid } as TaskRecord
        this.#tasks.set(uid, task)
        if (command.payload !== undefined) this.#payloads.set(uid, command.payload)
        if (ENDED_TASK_STATUSES.includes(task.status)) this.#taskEnded()
        return this.#commitValue(uid)
      }
      case 'task.update': {
        const task = this.#tasks.get(command.uid)
        if (task === undefined) return this.#reject('unknown_task', `no task ${command.uid}`)
        if (command.ifStatus !== undefined && !command.ifStatus.includes(task.status))
          return this.#reject('precondition_failed', `task ${command.uid} is ${task.status}`)
        const updated: TaskRecord = { ...task, ...command.patch, uid: task.uid }
        this.#tasks.set(task.uid, updated)
        if (command.dropPayload === true) this.#payloads.delete(task.uid)
        if (!ENDED_TASK_STATUSES.includes(task.status) && ENDED_TASK_STATUSES.includes(updated.status))
          this.#taskEnded()
        return this.#commitValue(updated)
      }
      case 'task.delete': {
        let deleted = 0
        for (const uid of command.uids) {
          const task = this.#tasks.get(uid)
          if (task === undefined) continue
          this.#tasks.delete(uid)
          this.#payloads.delete(uid)
          if (ENDED_TASK_STATUSES.includes(task.status)) this.#endedTasks--
          deleted++
        }
        return this.#commitValue(deleted)
      }
    }
  }

  /**
   * Applies every pair of an `index.swap` or none: a swap needs both indexes, a rename its source
   * and not its target, and no uid may appear in two pairs. Records and shard maps move to their
   * new uids with their shard names kept; ended tasks before the swap task follow them.
   */
  #swap(command: Extract<MetadataCommand, { type: 'index.swap' }>): ApplyOutcome {
    const state = this.#state
    const seen = new Set<string>()
    const renames = new Map<string, string>()
    for (const {
      indexes: [a, b],
      rename,
    } of command.swaps) {
      for (const uid of [a, b]) {
        if (seen.has(uid)) return this.#reject('malformed', `index ${uid} appears in two pairs`, uid)
        seen.add(uid)
      }
      if (state.indexes[a] === undefined) return this.#reject('unknown_index', `no index ${a}`, a)
      if (rename && state.indexes[b] !== undefined)
        return this.#reject('index_exists', `index ${b} already exists`, b)
      if (!rename && state.indexes[b] === undefined) return this.#reject('unknown_index', `no index ${b}`, b)
      renames.set(a, b)
      if (!rename) renames.set(b, a)
    }
    const indexes: Record<string, IndexRecord> = { ...state.indexes }
    const shards: Record<string, readonly ShardRecord[]> = { ...state.shards }
    for (const from of renames.keys()) {
      delete indexes[from]
      delete shards[from]
    }
    for (const [from, to] of renames) {
      const record = state.indexes[from]!
      indexes[to] = { ...record, uid: to, shardName: shardNameOf(record), updatedAtMs: command.atMs }
      const map = state.shards[from]
      if (map !== undefined) shards[to] = map
    }
    for (const [uid, task] of this.#tasks) {
      if (uid >= command.taskUid || task.status === 'enqueued' || task.indexUid === null) continue
      const next = renames.get(task.indexUid)
      if (next !== undefined) this.#tasks.set(uid, { ...task, indexUid: next })
    }
    return this.#commit({ indexes, shards })
  }

  /** Counts an ended task and forgets the oldest ended ones beyond `MAX_ENDED_TASKS`. */
  #taskEnded(): void {
    this.#endedTasks++
    if (this.#endedTasks <= MAX_ENDED_TASKS) return
    for (const [uid, task] of this.#tasks) {
      if (!ENDED_TASK_STATUSES.includes(task.status)) continue
      this.#tasks.delete(uid)
      this.#payloads.delete(uid)
      if (--this.#endedTasks <= MAX_ENDED_TASKS) return
    }
  }

  snapshot(): Uint8Array {
    return encodeState({
      state: this.#state,
      appliedIndex: this.#appliedIndex,
      tasks: [...this.#tasks.values()],
      payloads: [...this.#payloads],
      nextTaskUid: this.#nextTaskUid,
    })
  }

  restore(data: Uint8Array): void {
    const image = decodeState(data)
    this.#state = image?.state ?? emptyMetadata()
    this.#appliedIndex = image?.appliedIndex ?? 0
    this.#tasks = new Map((image?.tasks ?? []).map((task) => [task.uid, task]))
    this.#payloads = new Map(image?.payloads ?? [])
    this.#nextTaskUid = image?.nextTaskUid ?? 0
    this.#endedTasks = 0
    for (const task of this.#tasks.values()) if (ENDED_TASK_STATUSES.includes(task.status)) this.#endedTasks++
    this.#emit()
  }

  #commit(change: Partial<Mutable<MetadataState>>): ApplyOutcome {
    const version = this.#state.version + 1
    this.#state = { ...this.#state, ...change, version }
    return { ok: true, version }
  }

  #commitValue(value: unknown): ApplyOutcome {
    const version = this.#state.version + 1
    this.#state = { ...this.#state, version }
    return { ok: true, version, value }
  }

  #reject(reason: RejectReason, message: string, subject?: string): ApplyOutcome {
    return subject === undefined
      ? { ok: false, reason, message, version: this.#state.version }
      : { ok: false, reason, message, version: this.#state.version, subject }
  }

  #emit(): void {
    for (const listener of this.#listeners) listener(this.#state, this.#appliedIndex)
  }
}

/** The nodes holding a replica of the index (in any state) that lack one of `required`, sorted. */
function nodesLacking(state: MetadataState, uid: string, required: readonly string[]): string[] {
  const lacking = new Set<string>()
  for (const shard of state.shards[uid] ?? [])
    for (const replica of shard.replicas) {
      const node = state.nodes[replica.nodeId]
      if (node === undefined || required.some((c) => !node.capabilities.includes(c)))
        lacking.add(replica.nodeId)
    }
  return [...lacking].sort()
}
