import type { NormalEntry, StateMachine } from '@shoal/raft'
import { decodeCommand, decodeState, encodeState } from './codec.ts'
import type { ApplyOutcome, MetadataCommand, MetadataState, NodeRecord, RejectReason } from './types.ts'
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

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * The metadata group's state machine. `apply` is deterministic: it reads only
 * the command (whose `atMs` the proposer set) and the current state. A refused
 * command changes nothing, not even the version. The state is replaced, never
 * mutated in place, so a `MetadataState` handed out stays valid.
 */
export class MetadataStateMachine implements StateMachine {
  #state: MetadataState = emptyMetadata()
  #appliedIndex = 0
  readonly #listeners = new Set<(state: MetadataState, appliedIndex: number) => void>()

  get state(): MetadataState {
    return this.#state
  }

  /** The log index of the last entry applied (0 before any). */
  get appliedIndex(): number {
    return this.#appliedIndex
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
        const index = { ...command.index, createdAtMs: command.atMs, updatedAtMs: command.atMs }
        return this.#commit({ indexes: { ...state.indexes, [index.uid]: index } })
      }
      case 'index.update': {
        const index = state.indexes[command.uid]
        if (index === undefined) return this.#reject('unknown_index', `no index ${command.uid}`)
        const updated = {
          ...index,
          ...(command.primaryKey === undefined ? {} : { primaryKey: command.primaryKey }),
          ...(command.settings === undefined ? {} : { settings: command.settings }),
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
      case 'shards.set': {
        if (state.indexes[command.uid] === undefined)
          return this.#reject('unknown_index', `no index ${command.uid}`)
        return this.#commit({ shards: { ...state.shards, [command.uid]: command.shards } })
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
    }
  }

  snapshot(): Uint8Array {
    return encodeState({ state: this.#state, appliedIndex: this.#appliedIndex })
  }

  restore(data: Uint8Array): void {
    const image = decodeState(data)
    this.#state = image?.state ?? emptyMetadata()
    this.#appliedIndex = image?.appliedIndex ?? 0
    this.#emit()
  }

  #commit(change: Partial<Mutable<MetadataState>>): ApplyOutcome {
    const version = this.#state.version + 1
    this.#state = { ...this.#state, ...change, version }
    return { ok: true, version }
  }

  #reject(reason: RejectReason, message: string): ApplyOutcome {
    return { ok: false, reason, message, version: this.#state.version }
  }

  #emit(): void {
    for (const listener of this.#listeners) listener(this.#state, this.#appliedIndex)
  }
}
