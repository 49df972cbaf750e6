/**
 * The database as a deterministic state machine: `apply(command)` maps the
 * state and a command to the next state and a result. The same sequence of
 * commands gives the same state (and byte-identical snapshot images) on any
 * replica. A command that fails validation changes nothing and returns its
 * typed error as a value; the failure is itself deterministic, so replay
 * reproduces it.
 */

import {
  IndexAlreadyExistsError,
  IndexNotFoundError,
  InvalidDocumentError,
  InvalidFilterError,
  InvalidIndexUidError,
  ShoalError,
} from '../errors.ts'
import type { IndexInfo, Settings, WriteResult } from '../types.ts'
import type { ApplyResult, Command, IndexSwap } from './commands.ts'
import type { IndexImage } from './index-image.ts'
import {
  type Components,
  createFresh,
  type Fresh,
  IndexState,
  type Needs,
  newIndexNeeds,
  type PutPlan,
  type SettingsPlan,
  type StagedDelete,
} from './index-state.ts'
import { externalIdKey } from './primary-key.ts'
import { filterDocuments } from './search.ts'
import { defaultSettings, mergeSettings } from './settings.ts'

/** A validated command: what it needs created, and the synchronous change. */
interface Step {
  needs: Needs
  /**
   * Work done ahead of `commit`, with the cores `needs` asked for, that changes nothing a reader
   * sees (may pause between chunks).
   */
  prepare?(fresh: Fresh): Promise<void>
  commit(fresh: Fresh): IndexInfo | WriteResult | Settings | null
}

/** The snapshot body: format 2 is written, format 1 still read (see index-image.ts). */
export interface DatabaseImage {
  format: 1 | 2
  indexes: IndexImage[]
}

const UID_PATTERN = /^[A-Za-z0-9_-]{1,400}$/

export class DatabaseState {
  readonly #components: Components
  readonly #indexes = new Map<string, IndexState>()

  constructor(components: Components) {
    this.#components = components
  }

  /** The index, or IndexNotFoundError. */
  index(uid: string): IndexState {
    const index = this.#indexes.get(uid)
    if (index === undefined) throw new IndexNotFoundError(uid)
    return index
  }

  has(uid: string): boolean {
    return this.#indexes.has(uid)
  }

  /** Index uids in sorted order. */
  uids(): string[] {
    return [...this.#indexes.keys()].sort()
  }

  /**
   * Applies one command: validate and plan (no change), create the search
   * cores it needs (asynchronous), then commit (synchronous, cannot fail on
   * input). Callers apply one command at a time, in log order.
   */
  async apply(command: Command): Promise<ApplyResult> {
    let step: Step
    try {
      step = await this.#planInSlices(command)
    } catch (error) {
      if (error instanceof ShoalError) return { ok: false, error }
      throw error
    }
    const fresh = await createFresh(this.#components, step.needs)
    await step.prepare?.(fresh)
    return { ok: true, value: step.commit(fresh) }
  }

  /** Throws the error `apply(command)` would return, changing nothing. */
  check(command: Command): void {
    this.#plan(command)
  }

  /**
   * `check`, a large document write's validation pausing between chunks (the components'
   * `pause`): it checks the command against the state as that state is while it runs. Whatever
   * is checked synchronously (that the index exists) is checked before the first pause.
   */
  async checkInSlices(command: Command): Promise<void> {
    await this.#planInSlices(command)
  }

  /** `#plan`, with the planning of a document write or a settings change paused between chunks. */
  async #planInSlices(command: Command): Promise<Step> {
    const pause = this.#components.pause
    if (pause === undefined) return this.#plan(command)
    if (command.type === 'addDocuments') {
      const index = this.index(command.uid)
      const plan = await index.planPutInSlices(command.documents, command.merge, command.primaryKey, pause)
      return this.#putStep(command, index, plan)
    }
    if (command.type === 'updateSettings') {
      const index = this.index(command.uid)
      const next = mergeSettings(index.settings, command.settings)
      return this.#settingsStep(command, index, await index.planSettingsInSlices(next, pause))
    }
    return this.#plan(command)
  }

  #settingsStep(command: Command & { type: 'updateSettings' }, index: IndexState, plan: SettingsPlan): Step {
    return {
      needs: index.settingsNeeds(plan),
      prepare: (fresh) => index.prepareSettings(plan, fresh, this.#components.pause),
      commit: (fresh) => {
        index.commitSettings(plan, fresh)
        index.updatedAt = command.at
        return plan.next
      },
    }
  }

  #putStep(command: Command & { type: 'addDocuments' }, index: IndexState, plan: PutPlan): Step {
    return {
      needs: index.putNeeds(plan),
      prepare: (fresh) => index.preparePut(plan, fresh, this.#components.pause),
      commit: () => {
        index.commitPut(plan)
        index.updatedAt = command.at
        return { indexedDocuments: command.documents.length, primaryKey: plan.primaryKey }
      },
    }
  }

  /**
   * A delete: staged with pauses (`IndexState.prepareDelete`), then committed in one step. The
   * ids are taken when it is prepared (commands apply one at a time, so they still hold).
   */
  #deleteStep(index: IndexState, ids: () => number[], at: string): Step {
    let staged: StagedDelete | undefined
    return {
      needs: { vectors: [] },
      prepare: async () => {
        staged = await index.prepareDelete(ids(), this.#components.pause)
      },
      commit: () => {
        index.updatedAt = at
        return { deletedDocuments: index.commitDelete(staged!) }
      },
    }
  }

  #plan(command: Command): Step {
    const none: Needs = { vectors: [] }
    switch (command.type) {
      case 'createIndex': {
        if (typeof command.uid !== 'string' || !UID_PATTERN.test(command.uid))
          throw new InvalidIndexUidError(command.uid)
        if (this.#indexes.has(command.uid)) throw new IndexAlreadyExistsError(command.uid)
        if (
          command.primaryKey !== null &&
          (typeof command.primaryKey !== 'string' || command.primaryKey === '')
        ) {
          throw new InvalidDocumentError(
            '`primaryKey` must be a non-empty string.',
            'invalid_index_primary_key',
          )
        }
        const settings =
          command.settings === null ? defaultSettings() : mergeSettings(defaultSettings(), command.settings)
        return {
          needs: newIndexNeeds(settings),
          commit: (fresh) => {
            const info = {
              uid: command.uid,
              primaryKey: command.primaryKey,
              createdAt: command.at,
              updatedAt: command.at,
            }
            const index = new IndexState(info, settings, fresh)
            this.#indexes.set(command.uid, index)
            return index.info
          },
        }
      }
      case 'updateIndex': {
        const index = this.index(command.uid)
        if (typeof command.primaryKey !== 'string' || command.primaryKey === '') {
          throw new InvalidDocumentError(
            '`primaryKey` must be a non-empty string.',
            'invalid_index_primary_key',
          )
        }
        if (index.size > 0 && command.primaryKey !== index.primaryKey) {
          throw new InvalidDocumentError(
            `Index \`${command.uid}\` already has a primary key: \`${index.primaryKey}\`.`,
            'index_primary_key_already_exists',
          )
        }
        return {
          needs: none,
          commit: () => {
            index.primaryKey = command.primaryKey
            index.updatedAt = command.at
            return index.info
          },
        }
      }
      case 'deleteIndex': {
        this.index(command.uid)
        return {
          needs: none,
          commit: () => {
            this.#indexes.delete(command.uid)
            return null
          },
        }
      }
      case 'addDocuments': {
        const index = this.index(command.uid)
        return this.#putStep(
          command,
          index,
          index.planPut(command.documents, command.merge, command.primaryKey),
        )
      }
      case 'deleteDocuments': {
        const index = this.index(command.uid)
        if (!Array.isArray(command.ids)) {
          throw new InvalidDocumentError('The document ids must be an array.', 'invalid_document_id')
        }
        const keys = command.ids.map((id) => {
          const key = externalIdKey(id)
          if (key === undefined) {
            throw new InvalidDocumentError(
              `Document identifier \`${JSON.stringify(id)}\` is invalid.`,
              'invalid_document_id',
            )
          }
          return key
        })
        return this.#deleteStep(index, () => index.idsOfKeys(keys), command.at)
      }
      case 'deleteDocumentsByFilter': {
        const index = this.index(command.uid)
        let matched: ReturnType<typeof filterDocuments>
        try {
          matched = filterDocuments(index, command.filter)
        } catch (error) {
          throw error instanceof InvalidFilterError ? error.withCode('invalid_document_filter') : error
        }
        if (matched === undefined) {
          throw new InvalidFilterError(
            'A filter is required to delete documents by filter.',
            undefined,
            'invalid_document_filter',
          )
        }
        const ids = matched.toArray()
        return this.#deleteStep(index, () => Array.from(ids), command.at)
      }
      case 'deleteAllDocuments': {
        const index = this.index(command.uid)
        return {
          needs: index.deleteAllNeeds(),
          commit: (fresh) => {
            index.updatedAt = command.at
            return { deletedDocuments: index.deleteAll(fresh) }
          },
        }
      }
      case 'updateSettings': {
        const index = this.index(command.uid)
        return this.#settingsStep(
          command,
          index,
          index.planSettings(mergeSettings(index.settings, command.settings)),
        )
      }
      case 'swapIndexes':
        return this.#planSwaps(command.swaps, command.at)
      default:
        throw new InvalidDocumentError(
          `Unknown command type \`${String((command as { type: unknown }).type)}\`.`,
          'bad_request',
        )
    }
  }

  /**
   * Swaps (or renames) every pair at once: each uid appears in one pair only,
   * the indexes named exist, and a rename's target is free. The new map is
   * built before anything changes, so a bad pair changes nothing.
   */
  #planSwaps(swaps: IndexSwap[], at: string): Step {
    if (!Array.isArray(swaps)) {
      throw new ShoalError('`swaps` must be an array.', 'invalid_swap_indexes', 'invalid_request', 400)
    }
    const seen = new Set<string>()
    const missing: string[] = []
    for (const swap of swaps) {
      const pair = swap?.indexes
      if (!Array.isArray(pair) || pair.length !== 2 || typeof swap.rename !== 'boolean') {
        throw new ShoalError(
          'Each swap must name exactly two indexes and say whether it renames.',
          'invalid_swap_indexes',
          'invalid_request',
          400,
        )
      }
      for (const uid of pair) {
        if (typeof uid !== 'string' || !UID_PATTERN.test(uid)) throw new InvalidIndexUidError(uid)
        if (seen.has(uid)) {
          throw new ShoalError(
            `Indexes must be declared only once during a swap. \`${uid}\` was specified several times.`,
            'invalid_swap_duplicate_index_found',
            'invalid_request',
            400,
          )
        }
        seen.add(uid)
      }
      const [from, to] = pair
      if (!this.#indexes.has(from)) missing.push(from)
      if (swap.rename && this.#indexes.has(to)) throw new IndexAlreadyExistsError(to)
      if (!swap.rename && !this.#indexes.has(to)) missing.push(to)
    }
    if (missing.length === 1) throw new IndexNotFoundError(missing[0]!)
    if (missing.length > 1) {
      throw new ShoalError(
        `Indexes ${missing.map((uid) => `\`${uid}\``).join(', ')} not found.`,
        'index_not_found',
        'invalid_request',
        404,
      )
    }
    return {
      needs: { vectors: [] },
      commit: () => {
        const moved: [string, IndexState][] = []
        for (const { indexes, rename } of swaps) {
          const [a, b] = indexes
          const first = this.#indexes.get(a)!
          const second = this.#indexes.get(b)
          moved.push([b, first])
          if (!rename && second !== undefined) moved.push([a, second])
          this.#indexes.delete(a)
          this.#indexes.delete(b)
        }
        for (const [uid, index] of moved) {
          index.uid = uid
          index.updatedAt = at
          this.#indexes.set(uid, index)
        }
        return null
      },
    }
  }

  /** Vector operations accepted but not yet in any graph, over every index. */
  vectorBacklog(): number {
    let total = 0
    for (const index of this.#indexes.values()) total += index.vectorBacklog()
    return total
  }

  /** Queued vector operations weighed by their dimensions, over every index. */
  vectorBacklogFloats(): number {
    let total = 0
    for (const index of this.#indexes.values()) total += index.vectorBacklogFloats()
    return total
  }

  /**
   * Moves queued vector operations into the graphs, index by index in uid order, while `more()`
   * says so; returns the backlog left.
   */
  /** Whether some graph has a backlog it may take now (none held for an image in slices). */
  vectorsDrainable(): boolean {
    for (const uid of this.uids()) if (this.#indexes.get(uid)!.vectorsDrainable()) return true
    return false
  }

  drainVectors(more: () => boolean): number {
    let left = 0
    for (const uid of this.uids()) left += this.#indexes.get(uid)!.drainVectors(more)
    return left
  }

  image(): DatabaseImage {
    return { format: 2, indexes: this.uids().map((uid) => this.#indexes.get(uid)!.image()) }
  }

  /** `image()` as of this call, built in slices with `pause` between (see `IndexState.imageInSlices`). */
  async imageInSlices(pause: () => Promise<void>): Promise<DatabaseImage> {
    // Every index's contents are taken in this turn, before the first pause.
    const pending = this.uids().map((uid) => this.#indexes.get(uid)!.imageInSlices(pause))
    for (const image of pending) image.catch(() => {})
    const indexes = []
    for (const image of pending) indexes.push(await image)
    return { format: 2, indexes }
  }

  /** The state of a snapshot body written in format `version` (1 or 2); throws on a malformed one. */
  static async fromImage(
    components: Components,
    image: DatabaseImage,
    version: number,
  ): Promise<DatabaseState> {
    if (image === null || typeof image !== 'object' || !Array.isArray(image.indexes)) {
      throw new TypeError('not a database image')
    }
    if (image.format !== version) {
      throw new TypeError(`database image format ${String(image.format)} in a version ${version} frame`)
    }
    const state = new DatabaseState(components)
    for (const index of image.indexes)
      state.#indexes.set(index.uid, await IndexState.fromImage(components, index))
    return state
  }
}
