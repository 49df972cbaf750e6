import { shardOfFieldValue, shardsOfFilterValue } from '@shoal/cluster'
import { type Doc, documentKey, type Filter, type FilterNode, parseFilter } from '@shoal/engine'
import { ApiError } from '../errors.ts'

/**
 * Routing for `field`-sharded indexes (docs/sharded-indexes.md): where a write's documents go,
 * which old copies a key change leaves behind, and which shards a filter can match.
 */

/** Where a document of the batch lives before the write: its shard and stored copy. */
export interface LocatedCopy {
  readonly shard: number
  readonly doc: Doc
}

export interface FieldWritePlan {
  /** Step 0, per shard: the documents it receives, in batch order (null: none). */
  readonly additions: (Doc[] | null)[]
  /** Step 1, per shard: the ids of copies that moved to another shard (null: none). */
  readonly removals: (string[] | null)[]
  /** How many documents change shard. */
  readonly moved: number
}

export interface FieldWriteInput {
  readonly primaryKey: string
  readonly field: string
  readonly shardCount: number
  /** `updateDocuments` (merge into the stored document) rather than `addDocuments` (replace). */
  readonly merge: boolean
  /** The stored copies of each id key (several only after a move was cut short between its steps). */
  readonly located: ReadonlyMap<string, readonly LocatedCopy[]>
}

/**
 * Routes a batch by each document's shard key as it will be once written: the document itself,
 * or, for a partial update, the stored document with the update merged in (so an update that
 * leaves the key out stays where the document is). Documents of an id that must now live in
 * another shard than its stored copy are sent there whole (the merged document), and the old
 * copy is removed in step 1, after every addition has committed. Throws `invalid_document_shard_key`
 * (400) for the first document whose key is missing or not a string or integer: then nothing
 * of the batch is written.
 */
export function planFieldWrite(docs: readonly Doc[], input: FieldWriteInput): FieldWritePlan {
  const { primaryKey, field, shardCount, merge, located } = input
  const keys = docs.map((doc, position) => documentKey(doc, primaryKey, position))
  const current = new Map<string, Doc | undefined>()
  const target = new Map<string, number>()
  const lastPosition = new Map<string, number>()
  docs.forEach((doc, position) => {
    const key = keys[position]!
    if (!current.has(key)) current.set(key, located.get(key)?.[0]?.doc)
    const base = current.get(key)
    const effective = merge && base !== undefined ? { ...base, ...doc } : doc
    const outcome = shardOfFieldValue(effective, field, shardCount)
    if (!outcome.ok) throw shardKeyError(doc, position, field, outcome.problem)
    current.set(key, effective)
    target.set(key, outcome.shard)
    lastPosition.set(key, position)
  })
  const additions: (Doc[] | null)[] = Array.from({ length: shardCount }, () => null)
  const removals: (string[] | null)[] = Array.from({ length: shardCount }, () => null)
  const add = (shard: number, doc: Doc) => {
    const list = additions[shard] ?? []
    list.push(doc)
    additions[shard] = list
  }
  let moved = 0
  const movingIn = new Set<string>()
  for (const [key, shard] of target) {
    const copies = located.get(key) ?? []
    if (copies.length > 0 && !copies.some((copy) => copy.shard === shard)) {
      movingIn.add(key)
      moved++
    }
    for (const copy of copies) {
      if (copy.shard === shard) continue
      const list = removals[copy.shard] ?? []
      list.push(key)
      removals[copy.shard] = list
    }
  }
  docs.forEach((doc, position) => {
    const key = keys[position]!
    if (!movingIn.has(key)) {
      // Every document of an id routes where its final form lives: earlier forms of a key
      // changed within the batch are overwritten there in order, as on a single node.
      add(target.get(key)!, doc)
    } else if (lastPosition.get(key) === position) {
      // Arriving whole: the merged document, written once (the shard has no copy to merge into).
      add(target.get(key)!, current.get(key)!)
    }
  })
  return { additions, removals, moved }
}

function shardKeyError(doc: Doc, position: number, field: string, problem: 'missing' | 'invalid'): ApiError {
  const text = JSON.stringify(doc)
  const preview = text.length > 200 ? `${text.slice(0, 200)}…` : text
  const message =
    problem === 'missing'
      ? `Document at position ${position} has no \`${field}\` attribute, the shard key of this index: \`${preview}\`.`
      : `Document at position ${position} has an invalid shard key: \`${field}\` must be a non-empty string or an integer, got \`${JSON.stringify(doc[field])}\`.`
  return new ApiError(400, 'invalid_document_shard_key', message)
}

/**
 * The shards a search filter can match on a `field`-sharded index, or null for all of them. A
 * filter pins the shard key through `field = v`, `field IN [v, …]`, an `AND` with at least one
 * pinned side (the intersection) or an `OR` whose every side is pinned (the union); anything
 * else (`!=`, `NOT`, ranges, other attributes) can match anywhere. A filter that does not parse
 * is left to the shards, which report it as the typed error it is.
 */
export function shardsForFilter(
  filter: Filter | null | undefined,
  field: string,
  shardCount: number,
): number[] | null {
  let node: FilterNode | undefined
  try {
    node = parseFilter(filter)
  } catch {
    return null
  }
  if (node === undefined) return null
  const shards = pinned(node, field, shardCount)
  return shards === null ? null : [...shards].sort((a, b) => a - b)
}

function pinned(node: FilterNode, field: string, shardCount: number): Set<number> | null {
  switch (node.kind) {
    case 'compare':
      return node.op === '=' && node.attribute.text === field
        ? new Set(shardsOfFilterValue(node.value.text, shardCount))
        : null
    case 'in':
      if (node.attribute.text !== field) return null
      return new Set(node.values.flatMap((value) => shardsOfFilterValue(value.text, shardCount)))
    case 'and': {
      const sides = node.children
        .map((child) => pinned(child, field, shardCount))
        .filter((shards): shards is Set<number> => shards !== null)
      const [first, ...rest] = sides
      if (first === undefined) return null
      return new Set([...first].filter((shard) => rest.every((side) => side.has(shard))))
    }
    case 'or': {
      const out = new Set<number>()
      for (const child of node.children) {
        const shards = pinned(child, field, shardCount)
        if (shards === null) return null
        for (const s of shards) out.add(s)
      }
      return out
    }
    default:
      return null
  }
}
