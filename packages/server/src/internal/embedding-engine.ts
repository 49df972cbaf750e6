/**
 * The engine as the server drives it when indexes may have `rest` embedders: every other call
 * goes straight through; document writes, settings updates and searches of such an index first
 * call the embedder (embedder-client.ts), so the engine itself never does network I/O.
 *
 * Writes (`addDocuments` / `updateDocuments`): each document is rendered with the embedder's
 * `documentTemplate` (merged with the stored document for an update, as the engine will merge it)
 * and embedded, in batches, before the engine sees the batch. A document that brings its own
 * vector (`_vectors.<name>` as an array, or `{ embeddings, regenerate: false }`) keeps it; one
 * whose text is what the stored document renders to keeps the stored vector. If embedding fails,
 * the write fails with `vector_embedding_error` and nothing is written.
 *
 * Settings: a `rest` embedder without `dimensions` gets them from one probe call. When a `rest`
 * embedder is added or its text changes (url, templates, headers, or the searchable attributes
 * the default template renders), every stored document is embedded first, its vector written,
 * and only then the settings. Changing the dimensions of an existing `rest` embedder of a
 * non-empty index is refused (remove it, then add it back).
 *
 * Searches and facet searches: a `hybrid` one of a `rest` embedder with `q` and no `vector` gets
 * `q`'s vector.
 */

import {
  DEFAULT_DOCUMENT_TEMPLATE,
  type Doc,
  documentKey,
  inferPrimaryKey,
  mergeSettings,
  type RestEmbedderSettings,
  renderDocumentTemplate,
  type SearchParams,
  type Settings,
} from '@shoal/engine'
import type { EmbedderClient } from './embedder-client.ts'
import type { DocumentWriteOptions, EnginePort, IndexPort } from './engine-port.ts'
import { badRequest } from './errors.ts'
import { isPlainObject } from './request-body.ts'

/** Documents read and rewritten per engine write when the stored documents are embedded again. */
const REEMBED_PAGE = 1000

/** `engine` with `rest` embedders served through `client`. */
export function withEmbedders<E extends EnginePort>(engine: E, client: EmbedderClient): E {
  return new Proxy(engine, {
    get(target, property) {
      if (property === 'index') return (uid: string) => embeddingIndex(target, uid, client)
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

function embeddingIndex(engine: EnginePort, uid: string, client: EmbedderClient): IndexPort {
  const index = engine.index(uid)
  const primaryKeyOf = (docs: object[], opts: DocumentWriteOptions | undefined): string =>
    engine.getIndex(uid).primaryKey ?? opts?.primaryKey ?? inferPrimaryKey(docs as Doc[])
  const write = async (docs: object[], opts: DocumentWriteOptions | undefined, merge: boolean) => {
    const settings = await index.getSettings()
    const withVectors = await embedDocuments(client, index, settings, docs, merge, () =>
      primaryKeyOf(docs, opts),
    )
    return merge ? index.updateDocuments(withVectors, opts) : index.addDocuments(withVectors, opts)
  }
  return new Proxy(index, {
    get(target, property) {
      switch (property) {
        case 'addDocuments':
          return (docs: object[], opts?: DocumentWriteOptions) => write(docs, opts, false)
        case 'updateDocuments':
          return (docs: object[], opts?: DocumentWriteOptions) => write(docs, opts, true)
        case 'updateSettings':
          return (patch: Partial<Settings>) => updateSettings(client, engine, uid, target, patch)
        case 'facetSearch':
          return async (
            params: Parameters<IndexPort['facetSearch']>[0],
            read: Parameters<IndexPort['facetSearch']>[1],
          ) => target.facetSearch(await withQueryVector(client, await target.getSettings(), params), read)
        case 'search':
          return async (
            params: Parameters<IndexPort['search']>[0],
            read: Parameters<IndexPort['search']>[1],
          ) => target.search(await withQueryVector(client, await target.getSettings(), params), read)
      }
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

function restEmbedders(settings: Settings): [string, RestEmbedderSettings][] {
  return Object.entries(settings.embedders).filter(
    (entry): entry is [string, RestEmbedderSettings] => entry[1].source === 'rest',
  )
}

/**
 * `docs` with the vector of every `rest` embedder in `_vectors`, as the engine will store them.
 * Documents the engine will refuse anyway (no key) go through untouched, nothing embedded.
 */
async function embedDocuments(
  client: EmbedderClient,
  index: IndexPort,
  settings: Settings,
  docs: object[],
  merge: boolean,
  primaryKeyOf: () => string,
): Promise<object[]> {
  const embedders = restEmbedders(settings)
  if (embedders.length === 0) return docs
  let keys: string[]
  try {
    const primaryKey = primaryKeyOf()
    keys = docs.map((doc, position) => documentKey(doc as Doc, primaryKey, position))
  } catch {
    return docs
  }
  if (docs.some((doc) => !isPlainObject(doc))) return docs
  const stored = new Map<string, Doc>()
  const unique = [...new Set(keys)]
  storedReads(index)
    .storedDocuments(unique)
    .forEach((doc, i) => {
      if (doc !== null) stored.set(unique[i]!, doc)
    })
  // Pass 1: the text each document renders to once merged, unless a vector is at hand.
  const wanted = new Map<string, { positions: [number, string][]; embedder: RestEmbedderSettings }>()
  const found = new Map<string, number[]>()
  const merged = new Map<string, Doc>()
  docs.forEach((raw, position) => {
    const doc = raw as Doc
    const key = keys[position]!
    const base = merge ? (merged.get(key) ?? stored.get(key)) : undefined
    const final = base === undefined ? doc : { ...base, ...doc }
    merged.set(key, final)
    for (const [name, embedder] of embedders) {
      if (providedVector(doc, name) !== undefined) continue
      const text = renderDocumentTemplate(
        embedder.documentTemplate,
        final,
        embedder.documentTemplateMaxBytes,
        settings.searchableAttributes,
      )
      const previous = stored.get(key)
      const kept = previous === undefined ? undefined : vectorOf(previous, name)
      if (
        kept !== undefined &&
        renderDocumentTemplate(
          embedder.documentTemplate,
          previous!,
          embedder.documentTemplateMaxBytes,
          settings.searchableAttributes,
        ) === text
      ) {
        found.set(`${position}\u0000${name}`, kept)
        continue
      }
      const entry = wanted.get(`${name}\u0000${text}`) ?? { positions: [], embedder }
      entry.positions.push([position, name])
      wanted.set(`${name}\u0000${text}`, entry)
    }
  })
  for (const [name, embedder] of embedders) {
    const texts = [...wanted.entries()].filter(([, e]) => e.embedder === embedder)
    if (texts.length === 0) continue
    const vectors = await client.embed(
      name,
      embedder,
      texts.map(([key]) => key.slice(name.length + 1)),
    )
    texts.forEach(([, entry], i) => {
      for (const [position] of entry.positions) found.set(`${position}\u0000${name}`, vectors[i]!)
    })
  }
  // Pass 2: each document with its `_vectors` whole (a merge replaces the stored object).
  const written = new Map<string, Doc>()
  return docs.map((raw, position) => {
    const doc = raw as Doc
    const key = keys[position]!
    const base = merge ? (written.get(key) ?? stored.get(key)) : undefined
    const vectors: Record<string, unknown> = {
      ...(base !== undefined && isPlainObject(base._vectors) ? base._vectors : {}),
      ...(isPlainObject(doc._vectors) ? doc._vectors : {}),
    }
    for (const [name] of embedders)
      vectors[name] = providedVector(doc, name) ?? found.get(`${position}\u0000${name}`)
    const out = { ...doc, _vectors: vectors }
    written.set(key, base === undefined ? out : { ...base, ...out })
    return out
  })
}

/**
 * The vector a document brings for `name`: an array, or `{ embeddings, regenerate: false }`.
 * Undefined asks for an embedding (`null`, absent, or `{ regenerate: true }`).
 */
function providedVector(doc: Doc, name: string): unknown[] | undefined {
  const given = isPlainObject(doc._vectors) ? doc._vectors[name] : undefined
  if (given === undefined || given === null) return undefined
  if (Array.isArray(given)) return given
  if (isPlainObject(given) && given.regenerate === true) return undefined
  if (isPlainObject(given) && given.regenerate === false && Array.isArray(given.embeddings)) {
    const embeddings = given.embeddings
    // One vector, or Meilisearch's list holding one vector.
    return embeddings.length === 1 && Array.isArray(embeddings[0]) ? (embeddings[0] as unknown[]) : embeddings
  }
  throw badRequest(
    'invalid_document_fields',
    `\`_vectors.${name}\` must be an array, null, \`{ "embeddings": [...], "regenerate": false }\` or \`{ "regenerate": true }\`.`,
  )
}

function vectorOf(doc: Doc, name: string): number[] | undefined {
  const vector = isPlainObject(doc._vectors) ? doc._vectors[name] : undefined
  return Array.isArray(vector) ? (vector as number[]) : undefined
}

/** What decides a document's text and vector under `embedder` (not its key, not its distance). */
function textIdentity(settings: Settings, embedder: RestEmbedderSettings): string {
  const { url, request, response, headers, documentTemplate, documentTemplateMaxBytes, dimensions } = embedder
  const searchable = documentTemplate === DEFAULT_DOCUMENT_TEMPLATE ? settings.searchableAttributes : null
  return JSON.stringify([
    url,
    request,
    response,
    headers,
    documentTemplate,
    documentTemplateMaxBytes,
    dimensions,
    searchable,
  ])
}

async function updateSettings(
  client: EmbedderClient,
  engine: EnginePort,
  uid: string,
  index: IndexPort,
  patch: Partial<Settings>,
): Promise<Settings> {
  const current = await index.getSettings()
  const completed = await withDimensions(client, current, patch)
  // Validates the whole patch before any embedder is called or anything is written.
  const next = mergeSettings(current, completed)
  const changed = restEmbedders(next).filter(([name, embedder]) => {
    const before = current.embedders[name]
    return before?.source !== 'rest' || textIdentity(current, before) !== textIdentity(next, embedder)
  })
  const documents = (await index.getDocuments({ offset: 0, limit: 1 })).total
  if (changed.length > 0 && documents > 0) {
    for (const [name, embedder] of changed) {
      const before = current.embedders[name]
      if (before !== undefined && before.dimensions !== embedder.dimensions) {
        throw badRequest(
          'invalid_settings_embedders',
          `Embedder \`${name}\` would change from ${before.dimensions} to ${embedder.dimensions} dimensions while the index holds documents: remove the embedder first, then add it back.`,
        )
      }
    }
    await embedStored(client, index, engine.getIndex(uid).primaryKey!, next, changed)
  }
  return index.updateSettings(completed)
}

/**
 * Every stored document's vector under the `changed` embedders, written before the settings.
 * All vectors are computed first: a failed embedder call leaves the index as it was.
 */
async function embedStored(
  client: EmbedderClient,
  index: IndexPort,
  primaryKey: string,
  next: Settings,
  changed: [string, RestEmbedderSettings][],
): Promise<void> {
  const reads = storedReads(index)
  const docs = reads.storedDocuments(reads.storedKeys()) as Doc[]
  // The primary key's top-level attribute (`a` of `a.b`): a merge keeps the rest of the document.
  const top = primaryKey.split('.')[0]!
  const updates: Doc[] = docs.map((doc) => ({
    [top]: doc[top],
    _vectors: isPlainObject(doc._vectors) ? { ...doc._vectors } : {},
  }))
  for (const [name, embedder] of changed) {
    const texts = docs.map((doc) =>
      renderDocumentTemplate(
        embedder.documentTemplate,
        doc,
        embedder.documentTemplateMaxBytes,
        next.searchableAttributes,
      ),
    )
    const vectors = await client.embed(name, embedder, texts)
    vectors.forEach((vector, i) => {
      ;(updates[i]!._vectors as Record<string, unknown>)[name] = vector
    })
  }
  for (let i = 0; i < updates.length; i += REEMBED_PAGE) {
    await index.updateDocuments(updates.slice(i, i + REEMBED_PAGE))
  }
}

/** The stored-document reads of a standalone engine (a cluster refuses `rest` embedders before). */
function storedReads(index: IndexPort): Required<Pick<IndexPort, 'storedKeys' | 'storedDocuments'>> {
  if (index.storedKeys === undefined || index.storedDocuments === undefined) {
    throw new Error('rest embedders need a standalone engine')
  }
  return {
    storedKeys: index.storedKeys.bind(index),
    storedDocuments: index.storedDocuments.bind(index),
  }
}

/** `patch` with the `dimensions` of each new `rest` embedder that names none, found by one probe call. */
async function withDimensions(
  client: EmbedderClient,
  current: Settings,
  patch: Partial<Settings>,
): Promise<Partial<Settings>> {
  const asked = patch.embedders as unknown
  if (!isPlainObject(asked)) return patch
  const embedders: Record<string, unknown> = { ...asked }
  for (const [name, entry] of Object.entries(asked)) {
    if (!isPlainObject(entry) || entry.dimensions !== undefined) continue
    const before = current.embedders[name]
    const rest = entry.source === 'rest' || (entry.source === undefined && before?.source === 'rest')
    if (
      !rest ||
      (before?.source === 'rest' &&
        entry.url === undefined &&
        entry.request === undefined &&
        entry.response === undefined)
    )
      continue
    // The engine's validation of a stand-in with one dimension gives the embedder to probe.
    const probe = mergeSettings(current, { embedders: { ...embedders, [name]: { ...entry, dimensions: 1 } } })
    const [vector] = await client.embed(
      name,
      probe.embedders[name] as RestEmbedderSettings,
      ['Shoal dimensions probe'],
      null,
    )
    embedders[name] = { ...entry, dimensions: vector!.length }
  }
  return { ...patch, embedders: embedders as Settings['embedders'] }
}

/** `params` with `vector` set from `q` when the hybrid embedder is `rest` and no vector is given. */
async function withQueryVector<P extends Pick<SearchParams, 'q' | 'vector' | 'hybrid'>>(
  client: EmbedderClient,
  settings: Settings,
  params: P,
): Promise<P> {
  const hybrid = params.hybrid as unknown
  if (!isPlainObject(hybrid) || typeof hybrid.embedder !== 'string' || params.vector != null) return params
  const embedder = settings.embedders[hybrid.embedder]
  if (embedder?.source !== 'rest') return params
  const ratio = hybrid.semanticRatio ?? 0.5
  if (typeof ratio !== 'number' || ratio === 0) return params
  const q = params.q
  // No query text: nothing to embed; the search is a keyword (placeholder) one.
  if (q === undefined || q === null || (typeof q === 'string' && q.trim() === '')) {
    return { ...params, hybrid: { ...params.hybrid!, semanticRatio: 0 } }
  }
  if (typeof q !== 'string') return params
  return { ...params, vector: await client.embedQuery(hybrid.embedder, embedder, q) }
}
