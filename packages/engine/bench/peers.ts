import { type AnyOrama, create, search as oramaSearch } from '@orama/orama'
import { eng } from 'stopword'
import { BOOSTS } from '../../bm25/bench/peers.ts'
import { DIMENSIONS } from './vectors.ts'

/**
 * Orama as the engine suite's peer: the same field weights as the engine (its searchable
 * attributes in order weigh 3, 2, 1: `BOOSTS`, shared with the bm25 suite) and the same
 * documented options to choose from on the tuning queries (`threshold` 0, or 1: its default),
 * and the same English stop words as the engine's settings.
 * Orama's vector search is exact (it scans every vector); its hybrid mode mixes both.
 */
export function createOrama(): AnyOrama {
  return create({
    schema: {
      name: 'string',
      summary: 'string',
      description: 'string',
      section: 'enum',
      embedding: `vector[${DIMENSIONS}]`,
    } as const,
    // The engine's settings drop the same English stop words.
    components: { tokenizer: { stopWords: [...eng] } },
  })
}

export type OramaDb = AnyOrama

/** The `threshold` options offered to Orama's keyword and hybrid searches. */
export const ORAMA_THRESHOLDS = [0, 1] as const

export function oramaSearcher(db: OramaDb, threshold: number) {
  const hitIds = (result: unknown): number[] => {
    if (result instanceof Promise) throw new Error('Orama search unexpectedly asynchronous')
    return (result as { hits: { id: string }[] }).hits.map((hit) => Number(hit.id))
  }
  const properties: Array<'name' | 'summary' | 'description'> = ['name', 'summary', 'description']
  return {
    keyword: (term: string, section?: string) =>
      hitIds(
        oramaSearch(db, {
          term,
          limit: 10,
          boost: BOOSTS,
          threshold,
          properties,
          ...(section === undefined ? {} : { where: { section: { eq: section } } }),
        }),
      ),
    vector: (value: number[]) =>
      hitIds(
        oramaSearch(db, {
          mode: 'vector',
          vector: { value, property: 'embedding' },
          similarity: 0,
          limit: 10,
        }),
      ),
    hybrid: (term: string, value: number[]) =>
      hitIds(
        oramaSearch(db, {
          mode: 'hybrid',
          term,
          vector: { value, property: 'embedding' },
          similarity: 0,
          limit: 10,
          boost: BOOSTS,
          threshold,
          properties,
        }),
      ),
  }
}

/** The exact top 10 by cosine (the vectors are normalised: dot product) over every document. */
export function exactTop10(
  query: Float32Array,
  vectors: readonly Float32Array[],
  ids: readonly number[],
): number[] {
  const best: Array<[number, number]> = []
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i]!
    let dot = 0
    for (let d = 0; d < query.length; d++) dot += query[d]! * v[d]!
    if (best.length < 10 || dot > best[best.length - 1]![0]) {
      best.push([dot, ids[i]!])
      best.sort((a, b) => b[0] - a[0])
      if (best.length > 10) best.pop()
    }
  }
  return best.map(([, id]) => id)
}

/** Mean share of the exact top 10 found in each result list. */
export function recallAt10(
  found: ReadonlyArray<ArrayLike<number>>,
  exact: ReadonlyArray<readonly number[]>,
): number {
  let sum = 0
  found.forEach((ids, i) => {
    const truth = new Set(exact[i])
    let hit = 0
    for (let k = 0; k < Math.min(10, ids.length); k++) if (truth.has(ids[k]!)) hit++
    sum += hit / Math.max(1, truth.size)
  })
  return sum / found.length
}
