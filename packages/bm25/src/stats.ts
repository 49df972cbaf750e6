/**
 * Collection statistics that BM25 needs beyond one document: how many documents there are, the
 * total length of each field (its average is total / docCount), and how many documents hold
 * each term. Shards of one index gather theirs with `index.stats(terms)`, a coordinator sums
 * them with `mergeStats`, and every shard searches with the sum, so a document scores the same
 * as in one unsharded index (distributed IDF). Plain objects, so they travel as JSON or msgpack.
 */
export interface CollectionStats {
  docCount: number
  /** Field name → total number of indexed tokens in that field over all documents. */
  fieldLengths: Record<string, number>
  /** Index term (analysed form) → number of documents that contain it. */
  docFrequencies: Record<string, number>
}

/** The statistics of the union of disjoint collections: every count summed. */
export function mergeStats(parts: readonly CollectionStats[]): CollectionStats {
  const merged: CollectionStats = { docCount: 0, fieldLengths: {}, docFrequencies: {} }
  for (const part of parts) {
    merged.docCount += part.docCount
    for (const [field, length] of Object.entries(part.fieldLengths)) {
      merged.fieldLengths[field] = (merged.fieldLengths[field] ?? 0) + length
    }
    for (const [term, df] of Object.entries(part.docFrequencies)) {
      merged.docFrequencies[term] = (merged.docFrequencies[term] ?? 0) + df
    }
  }
  return merged
}

/** BM25 inverse document frequency, the non-negative form ln(1 + (N - df + 0.5) / (df + 0.5)). */
export function idf(docCount: number, docFrequency: number): number {
  const df = Math.min(Math.max(docFrequency, 0), docCount)
  return Math.log(1 + (docCount - df + 0.5) / (df + 0.5))
}
