import { defineSuite } from '@shoal/bench'
import MiniSearch from 'minisearch'
import { knownItemQueries, loadDebianCorpus } from '../../../bench/corpus/debian.ts'
import { mulberry32 } from '../../../bench/src/rng.ts'
import { Bm25Index, createAnalyzer } from '../src/index.ts'

/**
 * Typo-tolerant query throughput on Debian's package descriptions: @shoal/bm25 with `typos` 1 and
 * 2 against MiniSearch's `fuzzy` at the same absolute edit distance, same fields, no prefix
 * search, top 10. Queries are seeded known-item queries (2–4 words of a package summary) with
 * one random edit in every word of five letters or more. MiniSearch's distance is Levenshtein;
 * ours also counts an adjacent transposition as one edit. Also recorded: how many terms each
 * typo budget expands a query word to on average (the work the dictionary walk finds).
 */
export default defineSuite({
  description: '@shoal/bm25 typo-tolerant search q/s vs MiniSearch fuzzy at the same edit distance',
  peers: { npm: ['minisearch'] },
  async run(ctx) {
    const docs = loadDebianCorpus({ limit: ctx.smoke ? 5000 : Number.MAX_SAFE_INTEGER })
    const random = mulberry32(ctx.seed)
    const queries = knownItemQueries(docs, ctx.seed, ctx.smoke ? 50 : 500).map((q) =>
      q.query
        .split(' ')
        .map((word) => (word.length >= 5 ? misspell(word, random) : word))
        .join(' '),
    )
    const index = await Bm25Index.create({
      fields: { name: { boost: 3 }, summary: { boost: 2 }, description: {} },
      analyzer: createAnalyzer({ locale: 'en', stemming: false }),
    })
    for (const d of docs) index.add(d.id, { name: d.name, summary: d.summary, description: d.description })
    index.search('warm', 10)
    const mini = new MiniSearch<{ id: number; name: string; summary: string; description: string }>({
      fields: ['name', 'summary', 'description'],
      searchOptions: { boost: { name: 3, summary: 2 } },
    })
    mini.addAll(docs.map((d) => ({ id: d.id, name: d.name, summary: d.summary, description: d.description })))
    ctx.log(`${docs.length} documents, ${queries.length} queries with typos`)
    for (const edits of [1, 2] as const) {
      let i = 0
      let j = 0
      // Both sides answer the same misspelt queries, in interleaved rounds.
      await ctx.compare(`typo-qps-${edits}`, [
        {
          name: `bm25-typos-${edits}`,
          fn: () => {
            index.search(queries[i++ % queries.length]!, 10, { typos: edits, prefix: false })
          },
        },
        {
          name: `minisearch-fuzzy-${edits}`,
          peer: 'MiniSearch',
          fn: () => {
            mini.search(queries[j++ % queries.length]!, { fuzzy: edits, prefix: false }).slice(0, 10)
          },
        },
      ])
      const expanded = queries.map((q) => index.expandQuery(q, { typos: edits, prefix: false }).length)
      ctx.record({
        name: `bm25-terms-per-query-typos-${edits}`,
        metric: 'mean',
        value: expanded.reduce((a, b) => a + b, 0) / expanded.length,
        unit: 'terms',
      })
    }
  },
})

/** One random insertion, deletion, substitution or transposition inside `word` (not its first letter). */
function misspell(word: string, random: () => number): string {
  const at = 1 + Math.floor(random() * (word.length - 1))
  const letter = String.fromCharCode(97 + Math.floor(random() * 26))
  switch (Math.floor(random() * 4)) {
    case 0:
      return word.slice(0, at) + letter + word.slice(at)
    case 1:
      return word.slice(0, at) + word.slice(at + 1)
    case 2:
      return word.slice(0, at) + letter + word.slice(at + 1)
    default:
      return at + 1 < word.length
        ? word.slice(0, at) + word[at + 1] + word[at] + word.slice(at + 2)
        : word + letter
  }
}
