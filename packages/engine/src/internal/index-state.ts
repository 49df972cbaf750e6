/**
 * One index's state: documents keyed by primary key, each under an internal
 * u32 id, the live-id bitset, the field indexes for filters and facets, the
 * text index over searchable attributes and one vector index per embedder.
 *
 * Ids are reused, as Meilisearch reuses its document ids: a replaced or
 * updated document keeps its id; a deleted document's id is freed once every
 * structure has dropped it, and a new document takes the smallest free id
 * (else the next one). Placeholder search and document listing follow ids. So the id space stays as large as the most documents held at once,
 * and a workload that keeps replacing documents holds flat memory: the
 * bitsets and per-id arrays are sized by the id space, not by every id ever
 * issued. Freed ids are [0, nextId) minus the live ones, so the free list is
 * never stored: a snapshot's live ids determine it.
 *
 * Every mutation validates first and changes nothing when it throws, so a
 * batch is atomic. Mutations are deterministic functions of the state and
 * their arguments: that is what makes `apply` replayable.
 */

import { InvalidDocumentError, InvalidSettingsError } from '../errors.ts'
import type { Doc, EmbedderSettings, IndexInfo, IndexStats, IndexStorageStats, Settings } from '../types.ts'
import { Bitset } from './bitset.ts'
import { encodeValue } from './commands.ts'
import { bucketOfKey, DocumentDigests, documentHash } from './document-digests.ts'
import { isPlainObject, valuesAt } from './document-path.ts'
import { DocumentStore } from './document-store.ts'
import { FieldIndexes } from './field-index.ts'
import {
  type IndexImage,
  type IndexImageV1,
  type IndexImageV2,
  isImageV2,
  u32Bytes,
  u32Column,
} from './index-image.ts'
import type {
  TextField,
  TextIndex,
  TextIndexConfig,
  TextIndexFactory,
  VectorIndex,
  VectorIndexConfig,
  VectorIndexFactory,
} from './ports.ts'
import { documentKey, inferPrimaryKey } from './primary-key.ts'
import { withDefaults } from './settings.ts'
import { runInSlices, runWhole, type Steps } from './stepwise.ts'
import { BackloggedVectorIndex } from './vector-backlog.ts'

export interface Components {
  text: TextIndexFactory
  vector: VectorIndexFactory
  /**
   * Yields to other work between chunks of a large write's preparation (the engine passes a
   * `setImmediate` turn); absent, preparation runs without pausing.
   */
  pause?: () => Promise<void>
}

/** The seed of every vector index, so replicas build identical graphs. */
export const VECTOR_SEED = 0x5ea1

const VECTORS_FIELD = '_vectors'
const FLOAT32_MAX = 3.4028234663852886e38
const MIN_BITSET = 1024
/** Documents analysed between two pauses of `preparePut`. */
const PREPARE_CHUNK = 64
/** Documents checked (or given ids) between two pauses of `planPutInSlices` and `preparePut`. */
const PLAN_CHUNK = 256
/** Documents of an image loaded between two pauses of `fromImage`. */
const LOAD_CHUNK = 1024

/** The search cores a command needs created before it can be committed. */
export interface Needs {
  text?: TextIndexConfig
  vectors: [string, VectorIndexConfig][]
}

/** Freshly created, empty search cores, as asked for by `Needs`. */
export interface Fresh {
  text?: TextIndex
  vectors: Map<string, BackloggedVectorIndex>
}

export async function createFresh(components: Components, needs: Needs): Promise<Fresh> {
  const vectors = new Map<string, BackloggedVectorIndex>()
  for (const [name, config] of needs.vectors) {
    vectors.set(name, new BackloggedVectorIndex(await components.vector.create(config), config))
  }
  const fresh: Fresh = { vectors }
  if (needs.text !== undefined) fresh.text = await components.text.create(needs.text)
  return fresh
}

function vectorConfigs(settings: Settings, names: readonly string[]): [string, VectorIndexConfig][] {
  return names.map((name) => {
    const embedder = settings.embedders[name]!
    return [
      name,
      { dimensions: embedder.dimensions, distance: embedder.distance ?? 'cosine', seed: VECTOR_SEED },
    ]
  })
}

/** Text fields for `settings` before any document is seen. */
function explicitTextFields(settings: Settings): string[] {
  return settings.searchableAttributes.includes('*') ? [] : [...settings.searchableAttributes]
}

/** The text index configuration for `fields` under `settings`. */
function textConfig(settings: Settings, fields: readonly string[]): TextIndexConfig {
  const explicit = !settings.searchableAttributes.includes('*')
  const n = fields.length
  // Meilisearch ranks matches in earlier searchable attributes higher; with
  // an explicit list the BM25F boost falls linearly from 3 (first) to 1 (last).
  const textFields: TextField[] = fields.map((name, i) => ({
    name,
    boost: explicit && n > 1 ? 1 + (2 * (n - 1 - i)) / (n - 1) : 1,
  }))
  return {
    fields: textFields,
    stopWords: settings.stopWords,
    dictionary: settings.dictionary,
    separatorTokens: settings.separatorTokens,
    nonSeparatorTokens: settings.nonSeparatorTokens,
  }
}

/** What a new index with `settings` needs. */
export function newIndexNeeds(settings: Settings): Needs {
  return {
    text: textConfig(settings, explicitTextFields(settings)),
    vectors: vectorConfigs(settings, Object.keys(settings.embedders)),
  }
}

export interface SettingsPlan {
  next: Settings
  changedEmbedders: string[]
  /** The text fields after the change, when the text index must be rebuilt. */
  textFields: string[] | undefined
  rebuildFields: boolean
  /** What `prepareSettings` built for `commitSettings` to swap in (absent until it ran). */
  prepared?: PreparedSettings
}

/** Structures rebuilt for new settings by `prepareSettings`, unseen until `commitSettings`. */
interface PreparedSettings {
  /** The field indexes over the new filterable attributes, when those changed. */
  fields?: FieldIndexes
  /** The text index over the new text fields, filled, when the text settings changed. */
  text?: TextIndex
  /** Per changed embedder, the stored documents' vectors (ids, 32-bit floats back to back). */
  vectors: Map<string, { ids: Uint32Array; flat: Float32Array }>
}

export interface PutPlan {
  primaryKey: string
  finals: Map<string, Doc>
  /**
   * Per embedder, the final documents' vectors as 32-bit floats back to back and the position (in
   * `finals` order) of the document each belongs to, gathered ahead by `preparePut`.
   */
  preparedVectors?: Map<string, { positions: number[]; flat: Float32Array }>
  /** The text fields after the batch, when it brings new ones (the text index is rebuilt). */
  textFields: string[] | undefined
  /** What `preparePut` staged for `commitPut` to publish (absent until it ran). */
  staged?: StagedPut
}

/**
 * A batch staged by `preparePut`: its new documents are in the document store, the key map and
 * the field indexes under ids that are not live yet, its text is staged in the text index, and
 * every document's hash is worked out; `commitPut` publishes it.
 */
interface StagedPut {
  /** Per final document (in `finals` order), the id it takes: the replaced one's, or a new one. */
  ids: Uint32Array
  /** Keys of the final documents that replace stored ones, with their ids. */
  replaced: Map<string, number>
  /** The documents that replace stored ones, with their ids. */
  replacing: { id: number; key: string; doc: Doc }[]
  /** Per final document, its hash for the Merkle tree (high and low lanes) and its bucket. */
  hashes: Uint32Array
  buckets: Uint16Array
  /** Ids taken from the end of the free list, and the id space after the batch. */
  freeTaken: number
  nextId: number
  /** Per top-level attribute, how many new documents hold it (the field distribution's change). */
  fieldCounts: Map<string, number>
  /** The text index rebuilt over the batch's new text fields, when it brings some. */
  rebuiltText?: TextIndex
}

/** A delete worked out by `prepareDelete`, applied by `commitDelete`. */
export interface StagedDelete {
  removed: { id: number; doc: Doc }[]
  /** Per top-level attribute, how many removed documents hold it. */
  fieldCounts: Map<string, number>
  /** Puts the field indexes' arrays without the removed ids in place. */
  applyFields: () => void
  /** The field indexes the arrays were built from. */
  fields: FieldIndexes
}

export class IndexState {
  /** Changes only when the index is renamed or swapped (a `swapIndexes` command). */
  uid: string
  primaryKey: string | null
  readonly createdAt: string
  updatedAt: string
  #settings: Settings
  readonly #keyToId = new Map<string, number>()
  readonly #docs = new DocumentStore()
  /** The Merkle tree of the documents, updated with every insertion and removal (anti-entropy). */
  readonly #digests = new DocumentDigests()
  #keys: (string | undefined)[] = []
  #live = new Bitset(MIN_BITSET)
  #liveCount = 0
  #nextId = 0
  /** Free ids below #nextId, largest first (the smallest is popped). */
  #free: number[] = []
  #fields: FieldIndexes
  readonly #fieldDistribution = new Map<string, number>()
  #textFields: string[] = []
  #text: TextIndex
  #vectors = new Map<string, BackloggedVectorIndex>()

  constructor(
    info: { uid: string; primaryKey: string | null; createdAt: string; updatedAt: string },
    settings: Settings,
    fresh: Fresh,
  ) {
    this.uid = info.uid
    this.primaryKey = info.primaryKey
    this.createdAt = info.createdAt
    this.updatedAt = info.updatedAt
    this.#settings = settings
    this.#fields = new FieldIndexes(settings.filterableAttributes)
    this.#textFields = explicitTextFields(settings)
    this.#text = fresh.text!
    this.#vectors = fresh.vectors
  }

  get settings(): Settings {
    return this.#settings
  }

  get info(): IndexInfo {
    return {
      uid: this.uid,
      primaryKey: this.primaryKey,
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
    }
  }

  get size(): number {
    return this.#liveCount
  }

  get live(): Bitset {
    return this.#live
  }

  get fields(): FieldIndexes {
    return this.#fields
  }

  /** The attributes whose text the text index holds (what a query word can be held in). */
  get textFields(): readonly string[] {
    return this.#textFields
  }

  get text(): TextIndex {
    return this.#text
  }

  vectorIndex(embedder: string): VectorIndex | undefined {
    return this.#vectors.get(embedder)
  }

  /** Vector operations accepted but not yet in the graphs (see vector-backlog.ts). */
  vectorBacklog(): number {
    let total = 0
    for (const index of this.#vectors.values()) total += index.backlog
    return total
  }

  /** Whether a graph has a backlog it may take now (it is not held: see `BackloggedVectorIndex.held`). */
  vectorsDrainable(): boolean {
    for (const index of this.#vectors.values()) if (!index.held && index.backlog > 0) return true
    return false
  }

  /** The queued operations weighed by their dimensions: the floats a search scans exactly. */
  vectorBacklogFloats(): number {
    let total = 0
    for (const index of this.#vectors.values()) total += index.backlogFloats
    return total
  }

  /** Moves queued vector operations into the graphs while `more()` says so; returns the backlog left. */
  drainVectors(more: () => boolean): number {
    let left = 0
    for (const index of this.#vectors.values()) left += index.drain(more)
    return left
  }

  /** The stored document under internal `id`, or undefined when deleted. The caller must not mutate it. */
  docAt(id: number): Doc | undefined {
    return this.#docs.get(id)
  }

  /** The Merkle tree of the live documents and their (key, hash) pairs by bucket. */
  get digests(): DocumentDigests {
    return this.#digests
  }

  /** The internal id of the live document under `key` (a staged one is not live yet). */
  idOf(key: string): number | undefined {
    const id = this.#keyToId.get(key)
    return id !== undefined && this.#live.has(id) ? id : undefined
  }

  /** The primary key (canonical string) of internal `id`, or undefined when it is not live. */
  keyAt(id: number): string | undefined {
    return this.#live.has(id) ? this.#keys[id] : undefined
  }

  stats(): IndexStats {
    const fieldDistribution: Record<string, number> = {}
    for (const key of [...this.#fieldDistribution.keys()].sort())
      fieldDistribution[key] = this.#fieldDistribution.get(key)!
    return { numberOfDocuments: this.#liveCount, isIndexing: false, fieldDistribution }
  }

  /** What the index's structures hold (counts and bytes), for memory accounting. */
  storageStats(): IndexStorageStats {
    const vectors: IndexStorageStats['vectors'] = {}
    for (const name of [...this.#vectors.keys()].sort()) {
      const index = this.#vectors.get(name)!
      vectors[name] = { ...index.stats(), backlog: index.backlog }
    }
    return {
      documents: this.#liveCount,
      idSpace: this.#nextId,
      freeIds: this.#free.length,
      liveBitsetBytes: this.#live.words.byteLength,
      fieldEntries: this.#fields.entries,
      text: this.#text.stats(),
      vectors,
    }
  }

  /**
   * Validates a batch and works out the final documents (merged with stored
   * ones when `merge`), changing nothing. The last occurrence of a key wins.
   */
  planPut(docs: readonly unknown[], merge: boolean, primaryKeyOption: string | null): PutPlan {
    return runWhole(this.#planPut(docs, merge, primaryKeyOption))
  }

  /**
   * `planPut`, pausing between chunks of `PLAN_CHUNK` documents. The caller keeps the index
   * unchanged until it resolves (commands apply one at a time), or uses the plan only as a check.
   */
  planPutInSlices(
    docs: readonly unknown[],
    merge: boolean,
    primaryKeyOption: string | null,
    pause: (() => Promise<void>) | undefined,
  ): Promise<PutPlan> {
    return runInSlices(this.#planPut(docs, merge, primaryKeyOption), pause)
  }

  *#planPut(docs: readonly unknown[], merge: boolean, primaryKeyOption: string | null): Steps<PutPlan> {
    if (!Array.isArray(docs)) {
      throw new InvalidDocumentError('The documents must be an array of objects.', 'invalid_document_fields')
    }
    const primaryKey = this.#resolvePrimaryKey(docs, primaryKeyOption)
    const finals = new Map<string, Doc>()
    for (let position = 0; position < docs.length; position++) {
      if ((position + 1) % PLAN_CHUNK === 0) yield
      // A hole of a sparse array is skipped, as `forEach` skips it.
      if (!(position in docs)) continue
      const doc: unknown = docs[position]
      if (!isPlainObject(doc)) {
        throw new InvalidDocumentError(
          `Document at position ${position} is not a JSON object: \`${JSON.stringify(doc)}\`.`,
          'invalid_document_fields',
          position,
        )
      }
      const key = documentKey(doc, primaryKey, position)
      this.#checkVectors(doc, position)
      let final: Doc = doc
      if (merge) {
        const base = finals.get(key) ?? this.#storedByKey(key)
        if (base !== undefined) final = { ...base, ...doc }
      }
      finals.delete(key)
      finals.set(key, final)
    }
    this.#checkComputedVectors(finals)
    const textFields = yield* this.#discoverTextFields(this.#textFields, finals.values())
    return { primaryKey, finals, textFields }
  }

  /**
   * Gathers the batch's vectors and stages the batch ahead of `commitPut`, calling `pause`
   * between chunks of `PREPARE_CHUNK` documents so that a large batch does not hold the event
   * loop; nothing a reader sees changes. When the batch brings new text fields, the text goes
   * to `fresh.text` (the rebuilt text index, unseen until `commitPut` swaps it in): the stored
   * documents the batch keeps are added to it first, then the batch's own; otherwise the batch's
   * text is staged in the live text index.
   */
  async preparePut(plan: PutPlan, fresh: Fresh, pause: (() => Promise<void>) | undefined): Promise<void> {
    const vectors = this.#vectors
    const prepared = new Map<string, { positions: number[]; flat: Float32Array }>()
    const lists = await runInSlices(this.#vectorLists(plan.finals.values()), pause)
    for (const [name, { positions, values }] of lists) {
      const dimensions = this.#settings.embedders[name]!.dimensions
      const flat = new Float32Array(values.length * dimensions)
      for (let i = 0; i < values.length; i++) {
        flat.set(values[i]!, i * dimensions)
        if (pause !== undefined && (i + 1) % (4 * PREPARE_CHUNK) === 0) await pause()
      }
      prepared.set(name, { positions, flat })
    }
    // Only valid for the structures they were made for (a command in between could not replace
    // them, as commands apply one at a time, but a stale plan must not be used).
    if (vectors === this.#vectors) plan.preparedVectors = prepared
    const staged = await runInSlices(this.#beginStage(plan), pause)
    const rebuilt = plan.textFields === undefined ? undefined : fresh.text
    if (rebuilt !== undefined) {
      await this.#fillText(rebuilt, plan.textFields!, staged.replaced, pause)
      staged.rebuiltText = rebuilt
    }
    const text = this.#text
    const textFields = plan.textFields ?? this.#textFields
    // New documents stored so far, dropped again if staging fails part way.
    const stored: { id: number; doc: Doc }[] = []
    let position = 0
    try {
      for (const [key, doc] of plan.finals) {
        const id = staged.ids[position]!
        if (rebuilt !== undefined) rebuilt.add(id, this.#textOf(doc, textFields))
        else text.stage(id, text.prepare(this.#textOf(doc, textFields)))
        const hash = documentHash(key, encodeValue(doc))
        staged.hashes[2 * position] = hash.high
        staged.hashes[2 * position + 1] = hash.low
        staged.buckets[position] = bucketOfKey(key)
        if (staged.replaced.has(key)) staged.replacing.push({ id, key, doc })
        else {
          // Not live until published: readers reach documents through live ids only.
          this.#keyToId.set(key, id)
          this.#docs.set(id, doc)
          this.#keys[id] = key
          stored.push({ id, doc })
          this.#fields.add(id, doc)
          for (const field of Object.keys(doc))
            staged.fieldCounts.set(field, (staged.fieldCounts.get(field) ?? 0) + 1)
        }
        position++
        if (pause !== undefined && position % PREPARE_CHUNK === 0) await pause()
      }
    } catch (error) {
      this.#abandonStage(stored, rebuilt === undefined)
      throw error
    }
    plan.staged = staged
  }

  /**
   * Adds the live documents a batch keeps (all but those it replaces) to `text`, a text index
   * being rebuilt over `fields`, in id order and `PREPARE_CHUNK` documents between two pauses.
   */
  async #fillText(
    text: TextIndex,
    fields: readonly string[],
    replaced: ReadonlyMap<string, number>,
    pause: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const skipped = new Set(replaced.values())
    let added = 0
    for (let id = 0; id < this.#nextId; id++) {
      if (!this.#live.has(id) || skipped.has(id)) continue
      text.add(id, this.#textOf(this.#docs.get(id)!, fields))
      if (pause !== undefined && ++added % PREPARE_CHUNK === 0) await pause()
    }
  }

  /** Undoes a staging that failed part way: nothing of it was visible, and nothing stays. */
  #abandonStage(stored: readonly { id: number; doc: Doc }[], stagedText: boolean): void {
    if (stagedText) this.#text.discard()
    for (const { id } of stored) {
      this.#keyToId.delete(this.#keys[id]!)
      this.#docs.delete(id)
      this.#keys[id] = undefined
    }
    if (stored.length > 0) this.#fields.remove(stored)
  }

  /**
   * The ids of a batch's documents (the reuse rule of the file's header): a replaced document
   * keeps its id, a new one takes the smallest free id, else the next one. The live bitset grows to hold
   * them (its content does not change).
   */
  *#beginStage(plan: PutPlan): Steps<StagedPut> {
    const replaced = new Map<string, number>()
    const ids: number[] = []
    let freeTaken = 0
    let nextId = this.#nextId
    for (const key of plan.finals.keys()) {
      if ((ids.length + 1) % PLAN_CHUNK === 0) yield
      const old = this.#keyToId.get(key)
      if (old !== undefined) {
        replaced.set(key, old)
        ids.push(old)
      } else if (freeTaken < this.#free.length) {
        ids.push(this.#free[this.#free.length - 1 - freeTaken++]!)
      } else ids.push(nextId++)
    }
    // Grown as one insertion at a time would grow it (doubling), so the size is the same.
    let capacity = this.#live.capacity
    while (capacity < nextId) capacity *= 2
    if (capacity > this.#live.capacity) this.#resizeLive(capacity)
    const n = ids.length
    return {
      ids: Uint32Array.from(ids),
      replaced,
      replacing: [],
      hashes: new Uint32Array(2 * n),
      buckets: new Uint16Array(n),
      freeTaken,
      nextId,
      fieldCounts: new Map(),
    }
  }

  /**
   * Makes a staged batch visible in one synchronous step: the replaced documents are swapped
   * for their new versions (their field entries rebuilt), every document's live bit, Merkle
   * hash and count are set, and the text index publishes its staged postings (a step over the
   * terms the batch touches). No document is analysed, encoded or hashed here.
   */
  #publishPut(plan: PutPlan, staged: StagedPut): Uint32Array {
    const { ids, hashes, buckets } = staged
    if (staged.replacing.length > 0) this.#swapReplaced(staged)
    this.#free.length -= staged.freeTaken
    this.#nextId = staged.nextId
    // Per document only typed-array writes: its hash into the digests and its live bit.
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      this.#digests.setHash(id, buckets[i]!, hashes[2 * i]!, hashes[2 * i + 1]!)
      this.#live.add(id)
    }
    this.#liveCount += ids.length
    for (const [field, count] of staged.fieldCounts)
      this.#fieldDistribution.set(field, (this.#fieldDistribution.get(field) ?? 0) + count)
    if (staged.rebuiltText !== undefined) {
      this.#textFields = plan.textFields!
      this.#text = staged.rebuiltText
    } else this.#text.publish()
    return ids
  }

  /**
   * The replaced documents' part of publishing: their stored versions leave the document
   * store, the field indexes and the vector indexes, and the new versions take their ids. A
   * replaced document keeps its id, so its new field entries cannot be staged under it unseen;
   * this is the one per-document step left in publishing, over the replaced documents only.
   */
  #swapReplaced(staged: StagedPut): void {
    const removed: { id: number; doc: Doc }[] = []
    for (const id of staged.replaced.values()) {
      const doc = this.#docs.get(id)!
      this.#detach(id, doc, false)
      removed.push({ id, doc })
    }
    this.#fields.remove(removed)
    for (const { id, key, doc } of staged.replacing) {
      this.#keyToId.set(key, id)
      this.#docs.set(id, doc)
      this.#keys[id] = key
      this.#fields.add(id, doc)
      for (const field of Object.keys(doc))
        this.#fieldDistribution.set(field, (this.#fieldDistribution.get(field) ?? 0) + 1)
    }
  }

  /** The vectors of `docs` per embedder, and each one's document position in `docs`. */
  *#vectorLists(docs: Iterable<Doc>): Steps<Map<string, { positions: number[]; values: number[][] }>> {
    const lists = new Map<string, { positions: number[]; values: number[][] }>()
    let position = 0
    for (const doc of docs) {
      if ((position + 1) % PLAN_CHUNK === 0) yield
      const vectors = doc[VECTORS_FIELD]
      if (isPlainObject(vectors)) {
        for (const name of this.#vectors.keys()) {
          const vector = vectors[name]
          if (!Array.isArray(vector)) continue
          let list = lists.get(name)
          if (list === undefined) {
            list = { positions: [], values: [] }
            lists.set(name, list)
          }
          list.positions.push(position)
          list.values.push(vector as number[])
        }
      }
      position++
    }
    return lists
  }

  putNeeds(plan: PutPlan): Needs {
    return plan.textFields === undefined
      ? { vectors: [] }
      : { text: textConfig(this.#settings, plan.textFields), vectors: [] }
  }

  /** Publishes the batch `preparePut` staged (see `#publishPut`): one synchronous step. */
  commitPut(plan: PutPlan): void {
    if (plan.staged === undefined) throw new Error('commitPut before preparePut')
    this.primaryKey = plan.primaryKey
    this.#addPreparedVectors(plan, this.#publishPut(plan, plan.staged))
  }

  /** Queues the batch's vectors under the ids its documents took. */
  #addPreparedVectors(plan: PutPlan, ids: ArrayLike<number>): void {
    if (plan.preparedVectors !== undefined) {
      for (const [name, { positions, flat }] of plan.preparedVectors) {
        this.#vectors.get(name)!.addBatch(
          Uint32Array.from(positions, (position) => ids[position]!),
          flat,
        )
      }
      return
    }
    for (const [name, { positions, values }] of runWhole(this.#vectorLists(plan.finals.values()))) {
      this.#addVectors(
        name,
        positions.map((position) => ids[position]!),
        values,
      )
    }
  }

  #resolvePrimaryKey(docs: readonly unknown[], option: string | null): string {
    if (this.primaryKey !== null) {
      if (option !== null && option !== this.primaryKey) {
        throw new InvalidDocumentError(
          `Index \`${this.uid}\` already has a primary key: \`${this.primaryKey}\`.`,
          'index_primary_key_already_exists',
        )
      }
      return this.primaryKey
    }
    if (option !== null) return option
    // Inferred from the first document that is an object (a batch's others are not looked at).
    const first = docs.find(isPlainObject)
    return inferPrimaryKey(first === undefined ? [] : [first])
  }

  #storedByKey(key: string): Doc | undefined {
    const id = this.idOf(key)
    return id === undefined ? undefined : this.#docs.get(id)
  }

  #checkVectors(doc: Doc, position: number): void {
    const vectors = doc[VECTORS_FIELD]
    if (vectors === undefined || vectors === null) return
    if (!isPlainObject(vectors)) {
      throw new InvalidDocumentError(
        `Document at position ${position}: \`_vectors\` must be an object mapping embedder names to vectors.`,
        'invalid_document_fields',
        position,
      )
    }
    for (const [name, vector] of Object.entries(vectors)) {
      const embedder = this.#settings.embedders[name]
      if (embedder === undefined || vector === null) continue
      if (
        !Array.isArray(vector) ||
        vector.some((x) => typeof x !== 'number' || !(Math.abs(x) <= FLOAT32_MAX))
      ) {
        throw new InvalidDocumentError(
          `Document at position ${position}: \`_vectors.${name}\` must be an array of finite 32-bit floats.`,
          'invalid_document_fields',
          position,
        )
      }
      // Stored as 32-bit floats: a tiny component (1e-300) rounds to 0 there.
      if ((embedder.distance ?? 'cosine') === 'cosine' && vector.every((x) => Math.fround(x) === 0)) {
        throw new InvalidDocumentError(
          `Document at position ${position}: \`_vectors.${name}\` is a zero vector, which has no direction under cosine distance.`,
          'invalid_document_fields',
          position,
        )
      }
      if (vector.length !== embedder.dimensions) {
        throw new InvalidDocumentError(
          `Document at position ${position}: \`_vectors.${name}\` has ${vector.length} dimensions, but embedder \`${name}\` expects ${embedder.dimensions}.`,
          'invalid_vector_dimensions',
          position,
        )
      }
    }
  }

  /**
   * A `rest` embedder's vectors are computed by whoever drives the engine (the server) and handed
   * in with the documents: a document left without one would be missing from semantic search.
   */
  #checkComputedVectors(finals: Map<string, Doc>): void {
    const computed = Object.keys(this.#settings.embedders).filter(
      (name) => this.#settings.embedders[name]!.source === 'rest',
    )
    if (computed.length === 0) return
    for (const [key, doc] of finals) {
      const vectors = doc[VECTORS_FIELD]
      for (const name of computed) {
        if (!isPlainObject(vectors) || !Array.isArray(vectors[name])) {
          throw new InvalidDocumentError(
            `Document \`${key}\`: embedder \`${name}\` is a \`rest\` embedder, and the engine does not call it: \`_vectors.${name}\` must hold the document's vector (the Shoal server computes it).`,
            'invalid_document_fields',
          )
        }
      }
    }
  }

  /** Adds `ids` to the free list; the top of the id space that is free is given back. */
  #release(ids: number[]): void {
    // Largest first; a typed array sorts numbers without a comparator call per pair.
    const merged = new Uint32Array(this.#free.length + ids.length)
    merged.set(this.#free)
    merged.set(ids, this.#free.length)
    const free = Array.from(merged.sort().reverse())
    let top = 0
    while (top < free.length && free[top] === this.#nextId - 1) {
      this.#nextId--
      top++
    }
    this.#free = top === 0 ? free : free.slice(top)
    this.#docs.truncate(this.#nextId)
    this.#keys.length = Math.min(this.#keys.length, this.#nextId)
    const wanted = Math.max(MIN_BITSET, this.#nextId)
    if (this.#live.capacity > 2 * wanted) this.#resizeLive(wanted)
  }

  /**
   * Drops document `id` from everything but the field indexes (see `commitDelete`); `distribution`
   * false leaves the field distribution to the caller.
   */
  #detach(id: number, doc: Doc, text = true, distribution = true): void {
    this.#keyToId.delete(this.#keys[id]!)
    this.#docs.delete(id)
    this.#digests.delete(id)
    this.#keys[id] = undefined
    this.#live.delete(id)
    this.#liveCount--
    if (distribution) {
      for (const field of Object.keys(doc)) {
        const left = (this.#fieldDistribution.get(field) ?? 1) - 1
        if (left === 0) this.#fieldDistribution.delete(field)
        else this.#fieldDistribution.set(field, left)
      }
    }
    if (text) this.#text.remove(id)
    const vectors = doc[VECTORS_FIELD]
    if (isPlainObject(vectors)) {
      for (const [name, index] of this.#vectors) if (Array.isArray(vectors[name])) index.remove(id)
    }
  }

  #resizeLive(capacity: number): void {
    const resized = new Bitset(capacity)
    const words = this.#live.words
    resized.words.set(words.length > resized.words.length ? words.subarray(0, resized.words.length) : words)
    this.#live = resized
  }

  #addVectors(name: string, ids: number[], values: number[][]): void {
    const flat = flatten(values, this.#settings.embedders[name]!.dimensions)
    this.#vectors.get(name)!.addBatch(Uint32Array.from(ids), flat)
  }

  /** The ids of the documents with these keys, once each. */
  idsOfKeys(keys: readonly string[]): number[] {
    const ids = new Set<number>()
    for (const key of keys) {
      const id = this.#keyToId.get(key)
      if (id !== undefined) ids.add(id)
    }
    return [...ids]
  }

  /**
   * A delete of the documents under `ids` (each once), worked out ahead of `commitDelete` with
   * `pause` between chunks, changing nothing a reader sees: the removed documents, their
   * attributes' counts and the field indexes' arrays without them. `commitDelete` then removes
   * them in one synchronous step that reads no document's values (issue 24: a delete of 60k
   * documents held the event loop about 300 ms in one step).
   */
  prepareDelete(ids: readonly number[], pause: (() => Promise<void>) | undefined): Promise<StagedDelete> {
    return runInSlices(this.#stageDelete(ids), pause)
  }

  *#stageDelete(ids: readonly number[]): Steps<StagedDelete> {
    const removed: { id: number; doc: Doc }[] = []
    const fieldCounts = new Map<string, number>()
    for (let i = 0; i < ids.length; i++) {
      if ((i + 1) % PLAN_CHUNK === 0) yield
      const doc = this.#docs.get(ids[i]!)
      if (doc === undefined) continue
      removed.push({ id: ids[i]!, doc })
      for (const field of Object.keys(doc)) fieldCounts.set(field, (fieldCounts.get(field) ?? 0) + 1)
    }
    const applyFields = yield* this.#fields.planRemove(removed, PLAN_CHUNK)
    return { removed, fieldCounts, applyFields, fields: this.#fields }
  }

  /** Removes what `prepareDelete` staged (nothing changed in between); returns how many. */
  commitDelete(staged: StagedDelete): number {
    if (staged.fields !== this.#fields) throw new Error('commitDelete after the field indexes changed')
    const { removed } = staged
    for (const { id, doc } of removed) this.#detach(id, doc, true, false)
    for (const [field, count] of staged.fieldCounts) {
      const left = (this.#fieldDistribution.get(field) ?? count) - count
      if (left <= 0) this.#fieldDistribution.delete(field)
      else this.#fieldDistribution.set(field, left)
    }
    staged.applyFields()
    if (removed.length > 0) this.#release(removed.map((entry) => entry.id))
    return removed.length
  }

  deleteAllNeeds(): Needs {
    return newIndexNeeds(this.#settings)
  }

  deleteAll(fresh: Fresh): number {
    const deleted = this.#liveCount
    this.#keyToId.clear()
    this.#docs.clear()
    this.#digests.clear()
    this.#keys = []
    this.#live = new Bitset(MIN_BITSET)
    this.#liveCount = 0
    this.#nextId = 0
    this.#free = []
    this.#fieldDistribution.clear()
    this.#fields = new FieldIndexes(this.#settings.filterableAttributes)
    this.#textFields = explicitTextFields(this.#settings)
    this.#text = fresh.text!
    this.#vectors = fresh.vectors
    return deleted
  }

  /** Validates `next` against the stored documents and works out what it rebuilds, changing nothing. */
  planSettings(next: Settings): SettingsPlan {
    return runWhole(this.#planSettings(next))
  }

  /** `planSettings`, pausing between chunks of the stored documents it reads. */
  planSettingsInSlices(next: Settings, pause: (() => Promise<void>) | undefined): Promise<SettingsPlan> {
    return runInSlices(this.#planSettings(next), pause)
  }

  *#planSettings(next: Settings): Steps<SettingsPlan> {
    const previous = this.#settings
    const changedEmbedders = Object.keys(next.embedders).filter(
      (name) => JSON.stringify(next.embedders[name]) !== JSON.stringify(previous.embedders[name]),
    )
    for (const name of changedEmbedders) yield* this.#checkEmbedderFits(name, next.embedders[name]!)
    const textChanged =
      JSON.stringify(previous.searchableAttributes) !== JSON.stringify(next.searchableAttributes) ||
      JSON.stringify(previous.stopWords) !== JSON.stringify(next.stopWords) ||
      JSON.stringify(previous.dictionary) !== JSON.stringify(next.dictionary) ||
      JSON.stringify(previous.separatorTokens) !== JSON.stringify(next.separatorTokens) ||
      JSON.stringify(previous.nonSeparatorTokens) !== JSON.stringify(next.nonSeparatorTokens)
    let textFields: string[] | undefined
    if (textChanged) {
      const explicit = explicitTextFields(next)
      textFields = next.searchableAttributes.includes('*')
        ? ((yield* this.#discoverTextFields(explicit, this.#liveDocs())) ?? explicit)
        : explicit
    }
    const rebuildFields =
      JSON.stringify(previous.filterableAttributes) !== JSON.stringify(next.filterableAttributes)
    return { next, changedEmbedders, textFields, rebuildFields }
  }

  settingsNeeds(plan: SettingsPlan): Needs {
    const vectors = vectorConfigs(plan.next, plan.changedEmbedders)
    return plan.textFields === undefined
      ? { vectors }
      : { text: textConfig(plan.next, plan.textFields), vectors }
  }

  /**
   * Builds what new settings rebuild (field indexes, the text index in `fresh.text`, the changed
   * embedders' vectors gathered) from the stored documents, `PREPARE_CHUNK` documents between two
   * pauses; nothing a reader sees changes until `commitSettings` swaps them in.
   */
  async prepareSettings(
    plan: SettingsPlan,
    fresh: Fresh,
    pause: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const prepared: PreparedSettings = { vectors: new Map() }
    if (plan.rebuildFields) {
      const fields = new FieldIndexes(plan.next.filterableAttributes)
      let added = 0
      for (let id = 0; id < this.#nextId; id++) {
        if (!this.#live.has(id)) continue
        fields.add(id, this.#docs.get(id)!)
        if (pause !== undefined && ++added % PREPARE_CHUNK === 0) await pause()
      }
      prepared.fields = fields
    }
    if (plan.textFields !== undefined) {
      await this.#fillText(fresh.text!, plan.textFields, new Map(), pause)
      prepared.text = fresh.text!
    }
    for (const name of plan.changedEmbedders) {
      const ids: number[] = []
      const values: number[][] = []
      for (let id = 0; id < this.#nextId; id++) {
        const vectors = this.#live.has(id) ? this.#docs.get(id)![VECTORS_FIELD] : undefined
        const vector = isPlainObject(vectors) ? vectors[name] : undefined
        if (Array.isArray(vector)) {
          ids.push(id)
          values.push(vector as number[])
        }
        if (pause !== undefined && (id + 1) % PREPARE_CHUNK === 0) await pause()
      }
      const flat = flatten(values, plan.next.embedders[name]!.dimensions)
      prepared.vectors.set(name, { ids: Uint32Array.from(ids), flat })
    }
    plan.prepared = prepared
  }

  /** Swaps in what `prepareSettings` built: one synchronous step, no document read. */
  commitSettings(plan: SettingsPlan, fresh: Fresh): void {
    const prepared = plan.prepared
    if (prepared === undefined) throw new Error('commitSettings before prepareSettings')
    this.#settings = plan.next
    if (prepared.fields !== undefined) this.#fields = prepared.fields
    if (prepared.text !== undefined) {
      this.#textFields = plan.textFields!
      this.#text = prepared.text
    }
    const vectors = new Map<string, BackloggedVectorIndex>()
    for (const name of Object.keys(plan.next.embedders)) {
      const kept = this.#vectors.get(name)
      if (kept !== undefined && !plan.changedEmbedders.includes(name)) vectors.set(name, kept)
    }
    this.#vectors = vectors
    for (const name of plan.changedEmbedders) {
      const index = fresh.vectors.get(name)!
      this.#vectors.set(name, index)
      const { ids, flat } = prepared.vectors.get(name)!
      if (ids.length > 0) index.addBatch(ids, flat)
    }
  }

  *#checkEmbedderFits(name: string, embedder: EmbedderSettings): Steps<void> {
    const dimensions = embedder.dimensions
    let seen = 0
    for (const doc of this.#liveDocs()) {
      if (++seen % PLAN_CHUNK === 0) yield
      const vectors = doc[VECTORS_FIELD]
      const vector = isPlainObject(vectors) ? vectors[name] : undefined
      if (embedder.source === 'rest' && !Array.isArray(vector)) {
        throw new InvalidSettingsError(
          'embedders',
          `Embedder \`${name}\` is a \`rest\` embedder, and a stored document has no vector for it: the engine does not call the embedder (the Shoal server embeds the stored documents first).`,
        )
      }
      if (Array.isArray(vector) && vector.length !== dimensions) {
        throw new InvalidSettingsError(
          'embedders',
          `Embedder \`${name}\` would have ${dimensions} dimensions, but a stored document has a vector of ${vector.length}.`,
        )
      }
    }
  }

  *#liveDocs(): Generator<Doc> {
    for (let id = 0; id < this.#nextId; id++) {
      const doc = this.#live.has(id) ? this.#docs.get(id) : undefined
      if (doc !== undefined) yield doc
    }
  }

  #rebuildText(text: TextIndex): void {
    this.#text = text
    for (let id = 0; id < this.#nextId; id++) {
      const doc = this.#docs.get(id)
      if (doc !== undefined) this.#text.add(id, this.#textOf(doc))
    }
  }

  // Text: with `searchableAttributes: ['*']` the fields are the top-level
  // attributes in order of first appearance; a batch that brings a new one
  // rebuilds the text index once (rare: documents of an index share a shape).

  /** `fields` plus the new top-level attributes of `docs`, or undefined when there are none. */
  *#discoverTextFields(fields: string[], docs: Iterable<Doc>): Steps<string[] | undefined> {
    if (!this.#settings.searchableAttributes.includes('*')) return undefined
    const known = new Set(fields)
    const added: string[] = []
    let seen = 0
    for (const doc of docs) {
      if (++seen % PLAN_CHUNK === 0) yield
      for (const key of Object.keys(doc)) {
        if (key === VECTORS_FIELD || known.has(key)) continue
        known.add(key)
        added.push(key)
      }
    }
    return added.length === 0 ? undefined : [...fields, ...added]
  }

  /** The text of `doc` under `fields` (by default the index's text fields), as the text index takes it. */
  #textOf(doc: Doc, fields: readonly string[] = this.#textFields): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const field of fields) {
      const texts: string[] = []
      for (const value of valuesAt(doc, field)) collectText(value, texts)
      if (texts.length > 0) out[field] = texts
    }
    return out
  }

  // Snapshots (see index-image.ts).

  image(): IndexImageV2 {
    const { ids, filterable } = this.#liveIds()
    for (const id of ids) filterable?.push(this.#fields.filterable(this.#docs.peek(id)!))
    const documents = this.#docs.column(ids)
    const graphs = this.#vectorNames().map((name) => this.#vectors.get(name)!.serialize())
    return this.#imageOf(ids, documents, filterable, this.#text.serialize(), graphs)
  }

  #vectorNames(): string[] {
    return [...this.#vectors.keys()].sort()
  }

  /**
   * `image()` as of this call, its long parts worked out with `pause` between slices: what the
   * image holds is taken in this turn (document objects or held bytes, keys, counts, vectors, and
   * the text index's contents, see `TextIndex.serializeInSlices`), then the document column, the
   * filterable attributes and the text index's bytes are built in slices, while writes and
   * searches go on.
   */
  async imageInSlices(pause: () => Promise<void>): Promise<IndexImageV2> {
    const { ids, filterable } = this.#liveIds()
    const fields = this.#fields
    const text = this.#text.serializeInSlices(pause)
    // Taken now; the bytes come later (an exception is raised there, not left unhandled here).
    text.catch(() => {})
    // Each graph is held unchanged (writes wait in its backlog, whose image is taken now) until
    // its bytes are out.
    const graphs = this.#vectorNames().map((name) => this.#vectors.get(name)!.serializeInSlices(pause))
    for (const graph of graphs) graph.catch(() => {})
    const empty = { bytes: new Uint8Array(0), ends: new Uint32Array(0) }
    const image = this.#imageOf(ids, empty, filterable, null, null)
    const visit = filterable === null ? undefined : (doc: Doc) => filterable.push(fields.filterable(doc))
    const documents = await this.#docs.columnInSlices(ids, pause, LOAD_CHUNK, visit)
    image.documents = documents.bytes
    image.documentEnds = u32Bytes(documents.ends)
    image.text = await text
    for (const [i, graph] of graphs.entries()) image.vectors[i]![1] = await graph
    return image
  }

  /** The live internal ids, ascending, and an empty filterable column when there are filterable attributes. */
  #liveIds(): { ids: number[]; filterable: Doc[] | null } {
    const ids: number[] = []
    for (let id = 0; id < this.#nextId; id++) if (this.#live.has(id)) ids.push(id)
    return { ids, filterable: this.#fields.attributes.length > 0 ? [] : null }
  }

  #imageOf(
    ids: number[],
    documents: { bytes: Uint8Array; ends: Uint32Array },
    filterable: Doc[] | null,
    text: Uint8Array | null,
    graphs: Uint8Array[] | null,
  ): IndexImageV2 {
    const vectors: [string, Uint8Array][] = []
    const vectorBacklog: [string, Uint8Array][] = []
    for (const [i, name] of this.#vectorNames().entries()) {
      const index = this.#vectors.get(name)!
      // Without `graphs`, the caller fills each graph's bytes in later.
      vectors.push([name, graphs?.[i] ?? new Uint8Array(0)])
      const backlog = index.backlogImage()
      if (backlog !== null) vectorBacklog.push([name, backlog])
    }
    return {
      uid: this.uid,
      primaryKey: this.primaryKey,
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
      settings: this.#settings,
      nextId: this.#nextId,
      textFields: [...this.#textFields],
      ids: u32Bytes(Uint32Array.from(ids)),
      keys: ids.map((id) => this.#keys[id]!),
      documents: documents.bytes,
      documentEnds: u32Bytes(documents.ends),
      filterable,
      fieldCounts: [...this.#fieldDistribution],
      text,
      vectors,
      vectorBacklog,
    }
  }

  static async fromImage(components: Components, image: IndexImage): Promise<IndexState> {
    const v2 = isImageV2(image)
    const config = textConfig(image.settings, image.textFields)
    const text =
      image.text === null
        ? await components.text.create(config)
        : await components.text.deserialize(image.text, config, components.pause)
    // A turn between the large loads (text index, each graph, document columns).
    await components.pause?.()
    const vectors = new Map<string, BackloggedVectorIndex>()
    for (const [name, bytes] of image.vectors) {
      const [, vectorConfig] = vectorConfigs(image.settings, [name])[0]!
      const graph = await components.vector.deserialize(bytes, vectorConfig, components.pause)
      vectors.set(name, new BackloggedVectorIndex(graph, vectorConfig))
      await components.pause?.()
    }
    if (v2) {
      for (const [name, backlog] of image.vectorBacklog ?? []) {
        const index = vectors.get(name)
        if (index === undefined) throw new TypeError(`vector backlog of unknown embedder ${name}`)
        index.restoreBacklog(backlog)
      }
    }
    const state = new IndexState(image, withDefaults(image.settings), { text, vectors })
    state.#textFields = image.textFields
    state.#nextId = image.nextId
    state.#resizeLive(Math.max(MIN_BITSET, image.nextId))
    if (v2) await state.#loadV2(image, components.pause)
    else state.#loadV1(image)
    for (let id = image.nextId - 1; id >= 0; id--) if (!state.#live.has(id)) state.#free.push(id)
    if (image.text === null) state.#rebuildText(text)
    return state
  }

  /**
   * Loads an image's document columns: key map, live bits, Merkle digests (a hash per
   * document) and field entries, `LOAD_CHUNK` documents between two pauses (the state is not
   * in use until the load ends, so a pause changes nothing a reader sees).
   */
  async #loadV2(image: IndexImageV2, pause: (() => Promise<void>) | undefined): Promise<void> {
    const ids = u32Column(image.ids, 'ids')
    const n = ids.length
    if (image.keys.length !== n || (image.filterable !== null && image.filterable.length !== n)) {
      throw new TypeError('index image columns differ in length')
    }
    const ends = u32Column(image.documentEnds, 'document ends')
    this.#docs.load(ids, { bytes: image.documents, ends })
    if (pause !== undefined) await pause()
    for (let i = 0; i < n; i++) {
      const id = ids[i]!
      if (id >= image.nextId || this.#live.has(id)) throw new TypeError(`bad id ${id} in index image`)
      const key = image.keys[i]!
      // The tree is rebuilt once per load, from the stored bytes (no document is decoded).
      this.#digests.set(id, key, image.documents.subarray(i === 0 ? 0 : ends[i - 1]!, ends[i]!))
      this.#keyToId.set(key, id)
      this.#keys[id] = key
      this.#live.add(id)
      if (image.filterable !== null) this.#fields.add(id, image.filterable[i]!)
      if (pause !== undefined && (i + 1) % LOAD_CHUNK === 0) await pause()
    }
    this.#liveCount = n
    for (const [field, count] of image.fieldCounts) this.#fieldDistribution.set(field, count)
  }

  #loadV1(image: IndexImageV1): void {
    image.ids.forEach((id, i) => {
      const doc = image.docs[i]!
      const key = documentKey(doc, image.primaryKey!, i)
      this.#keyToId.set(key, id)
      this.#docs.set(id, doc)
      this.#digests.set(id, key, encodeValue(doc))
      this.#keys[id] = key
      this.#live.add(id)
      this.#liveCount++
      for (const field of Object.keys(doc)) {
        this.#fieldDistribution.set(field, (this.#fieldDistribution.get(field) ?? 0) + 1)
      }
      this.#fields.add(id, doc)
    })
  }
}

/** `values` (each `dimensions` numbers) as 32-bit floats back to back. */
function flatten(values: readonly number[][], dimensions: number): Float32Array {
  const flat = new Float32Array(values.length * dimensions)
  values.forEach((vector, i) => {
    flat.set(vector, i * dimensions)
  })
  return flat
}

function collectText(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value)
  else if (typeof value === 'number' || typeof value === 'boolean') out.push(String(value))
  else if (Array.isArray(value)) for (const item of value) collectText(item, out)
  else if (isPlainObject(value)) for (const key of Object.keys(value)) collectText(value[key], out)
}
