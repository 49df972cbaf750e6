import { type Command, type Doc, DocumentNotFoundError, documentKey } from '@shoal/engine'
import type { ClusterEngine } from './cluster-engine.ts'
import { type LocatedCopy, planFieldWrite } from './field-routing.ts'
import { shardTargets } from './shard-rpc.ts'

/** The index a `field`-sharded write goes to: its uid, its shards' name, its shard key. */
export interface FieldIndexRef {
  readonly uid: string
  /** The name the shards know the index by (`shardNameOf`). */
  readonly name: string
  readonly field: string
}

/**
 * A `field`-sharded write, in two steps. Where each document's id lives now is read from every
 * shard's leader; `planFieldWrite` routes the batch by shard key (refusing it whole on a bad
 * key). Step 0 writes every addition, the moved documents' new copies included, checked on every
 * shard first; step 1, only once step 0 has committed everywhere, removes the moved documents'
 * old copies. So a moved document is in one shard or both, never in none: a reader keeps one
 * copy per id (docs/sharded-indexes.md, "Changing a shard key"). Returns step 0's shard results.
 */
export async function writeByField(
  engine: ClusterEngine,
  index: FieldIndexRef,
  docs: Doc[],
  primaryKey: string,
  merge: boolean,
): Promise<unknown[]> {
  const targets = shardTargets(engine.node, index.uid)
  const keys = [...new Set(docs.map((doc, position) => documentKey(doc, primaryKey, position)))]
  const stored = await engine.read(index.uid, () => ({ action: 'storedDocuments', keys }), 'leader')
  const located = new Map<string, LocatedCopy[]>()
  for (const part of stored) {
    ;(part.value as (Doc | null)[]).forEach((doc, i) => {
      if (doc === null) return
      const copies = located.get(keys[i]!) ?? []
      copies.push({ shard: part.shard, doc })
      located.set(keys[i]!, copies)
    })
  }
  const plan = planFieldWrite(docs, {
    primaryKey,
    field: index.field,
    shardCount: targets.length,
    merge,
    located,
  })
  const additions = plan.additions.map((documents): Command | null =>
    documents === null
      ? null
      : { type: 'addDocuments', uid: index.name, documents, primaryKey, merge, at: engine.at },
  )
  const written = await engine.checkThenApply(index.uid, additions)
  if (plan.removals.every((ids) => ids === null)) return written
  const removals = plan.removals.map((ids): Command | null =>
    ids === null ? null : { type: 'deleteDocuments', uid: index.name, ids, at: engine.at },
  )
  await engine.checkThenApply(index.uid, removals, 1)
  return written
}

/**
 * A document of a `field`-sharded index, which may live in any shard: every shard's leader is
 * asked. While the document moves it may be in two (either copy is answered); when none has it,
 * the shards are asked once more, so a move whose new copy committed after this read reached its
 * shard and whose old copy was removed before the read reached the old one is still found.
 */
export async function findDocument(
  engine: ClusterEngine,
  uid: string,
  id: string | number,
  options: object,
): Promise<Doc> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const parts = await engine.read(uid, () => ({ action: 'findDocument', id, options }), 'leader')
    const found = parts.find((part) => part.value !== null && part.value !== undefined)
    if (found !== undefined) return found.value as Doc
  }
  throw new DocumentNotFoundError(id)
}
