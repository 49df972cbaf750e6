import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'
import { create, insertMultiple, search as oramaSearch } from '@orama/orama'
import { Index as FlexIndex } from 'flexsearch'
import MiniSearch from 'minisearch'
import type { DebianPackage } from '../../../bench/corpus/debian.ts'

/**
 * Field weights every engine gets, in both the bm25 and the engine suites: the engine's own
 * weights for searchable attributes in order (name, summary, description → 3, 2, 1), which are a
 * product default and were not chosen on the benchmark's queries.
 */
export const BOOSTS = { name: 3, summary: 2, description: 1 }

/** The name field: the package name and its dash/dot-separated parts, so 'python3-numpy' matches 'numpy'. */
export function nameText(doc: DebianPackage): string {
  return `${doc.name.replace(/[-.+_]/g, ' ')} ${doc.name}`
}

/** One documented configuration of an engine, over an index already built. */
export interface Candidate {
  /** The options, as the engine's documentation names them. */
  label: string
  search(query: string): ArrayLike<number>
}

/** An engine's index, built once, with the query-time configurations to choose from. */
export interface Built {
  candidates: Candidate[]
  /** Bytes the index holds when the JS heap cannot show it (SQLite's pages). */
  ownMemoryBytes?: number
  close?(): void
}

/** Words of a query, for engines that take a query language (FTS5). */
function queryWords(query: string): string[] {
  return query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
}

const lastTermPrefix = (_term: string, i: number, terms: string[]) => i === terms.length - 1

/** MiniSearch: OR of the terms (its default); options from its documentation: prefix, fuzzy. */
export function buildMiniSearch(docs: readonly DebianPackage[]): Built {
  const index = new MiniSearch<{ id: number; name: string; summary: string; description: string }>({
    fields: ['name', 'summary', 'description'],
  })
  index.addAll(
    docs.map((d) => ({ id: d.id, name: nameText(d), summary: d.summary, description: d.description })),
  )
  const boost = { name: BOOSTS.name, summary: BOOSTS.summary, description: BOOSTS.description }
  const variant = (label: string, options: Record<string, unknown>): Candidate => ({
    label,
    search: (query) =>
      index
        .search(query, { boost, ...options })
        .slice(0, 10)
        .map((r) => r.id as number),
  })
  return {
    candidates: [
      variant('exact terms', {}),
      variant('prefix: last term', { prefix: lastTermPrefix }),
      variant('fuzzy: 0.2', { fuzzy: 0.2 }),
      variant('prefix: last term, fuzzy: 0.2', { prefix: lastTermPrefix, fuzzy: 0.2 }),
    ],
  }
}

/** Orama: prefix matching on (its default); `threshold` 0 or 1 (its default in 3.1: every partial match kept). */
export async function buildOrama(docs: readonly DebianPackage[]): Promise<Built> {
  const db = create({ schema: { name: 'string', summary: 'string', description: 'string' } as const })
  await insertMultiple(
    db,
    docs.map((d) => ({
      id: String(d.id),
      name: nameText(d),
      summary: d.summary,
      description: d.description,
    })),
  )
  const variant = (label: string, threshold: number, exact: boolean): Candidate => ({
    label,
    search: (query) => {
      const result = oramaSearch(db, { term: query, limit: 10, boost: BOOSTS, threshold, exact })
      if (result instanceof Promise) throw new Error('Orama search unexpectedly asynchronous')
      return result.hits.map((hit) => Number(hit.id))
    },
  })
  return {
    // Orama answers a few queries a second on this corpus: two candidates keep the tuning affordable.
    candidates: [variant('threshold: 0', 0, false), variant('threshold: 1 (default)', 1, false)],
  }
}

/** FlexSearch: one index of the three fields (no field weights); tokenize 'forward' (prefixes). */
export function buildFlexSearch(docs: readonly DebianPackage[]): Built {
  const index = new FlexIndex({ tokenize: 'forward' })
  for (const d of docs) index.add(d.id, `${nameText(d)} ${d.summary} ${d.description}`)
  return {
    candidates: [
      { label: "tokenize: 'forward'", search: (query) => index.search(query, 10) as number[] },
      {
        label: "tokenize: 'forward', suggest",
        search: (query) => index.search(query, { limit: 10, suggest: true }) as number[],
      },
    ],
  }
}

/**
 * SQLite FTS5 (Node's built-in node:sqlite) with the porter tokenizer and a prefix index for
 * 2–4 character prefixes (`prefix='2 3 4'`), which prefix queries need to be fast; ranked by
 * bm25() with the same weights. Memory: the database's pages (page_count × page_size); the JS
 * heap does not see SQLite's allocations.
 */
export function buildSqlite(docs: readonly DebianPackage[]): Built {
  const db = new DatabaseSync(':memory:')
  db.exec(
    "CREATE VIRTUAL TABLE docs USING fts5(name, summary, description, tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3 4')",
  )
  const insert = db.prepare('INSERT INTO docs(rowid, name, summary, description) VALUES (?, ?, ?, ?)')
  db.exec('BEGIN')
  for (const d of docs) insert.run(d.id, nameText(d), d.summary, d.description)
  db.exec('COMMIT')
  const select = db.prepare(
    `SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, ${BOOSTS.name}, ${BOOSTS.summary}, ${BOOSTS.description}) LIMIT 10`,
  )
  const pages = db.prepare('PRAGMA page_count').get() as { page_count: number }
  const size = db.prepare('PRAGMA page_size').get() as { page_size: number }
  const variant = (label: string, prefix: boolean): Candidate => ({
    label,
    search: (query) => {
      const words = queryWords(query)
      if (words.length === 0) return []
      // OR of the words: ranked retrieval like the other engines.
      const match = words.map((w, i) => `"${w}"${prefix && i === words.length - 1 ? '*' : ''}`).join(' OR ')
      return select.all(match).map((row) => row.rowid as number)
    },
  })
  return {
    candidates: [variant('OR of terms', false), variant('OR of terms, last as prefix', true)],
    ownMemoryBytes: pages.page_count * size.page_size,
    close: () => db.close(),
  }
}

const PYTHON = '/usr/bin/python3'

/** Whether Debian's python3-xapian is importable. */
export function xapianAvailable(): boolean {
  if (!existsSync(PYTHON)) return false
  try {
    execFileSync(PYTHON, ['-c', 'import xapian'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** `stem`: positions and the English stemmer (Xapian's usual setup); `plain`: neither, as @shoal/bm25. */
export type XapianAnalysis = 'stem' | 'plain'

/** xapian_peer.py as a long-lived child: one JSON command per line, one JSON answer per line. */
export class XapianPeer {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly lines: AsyncIterator<string>

  constructor(corpusFile: string, analysis: XapianAnalysis, limit: number) {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'xapian_peer.py')
    this.child = spawn(PYTHON, [script, corpusFile, analysis, JSON.stringify(BOOSTS), String(limit)])
    this.child.stderr.pipe(process.stderr)
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]()
  }

  private async ask<T>(command: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`)
    const line = await this.lines.next()
    if (line.done === true) throw new Error('the Xapian peer exited')
    const answer = JSON.parse(line.value) as T & { error?: string }
    if (answer.error !== undefined) throw new Error(`Xapian peer: ${answer.error}`)
    return answer
  }

  /** Builds a fresh database of the first `limit` documents; returns seconds. */
  async build(backend: 'disk' | 'memory', limit: number): Promise<number> {
    return (await this.ask<{ seconds: number }>({ cmd: 'build', backend, limit })).seconds
  }

  async search(queries: readonly string[], partial: boolean): Promise<number[][]> {
    return (await this.ask<{ results: number[][] }>({ cmd: 'search', queries, partial })).results
  }

  /** Seconds for one pass over `queries`. */
  async time(queries: readonly string[], partial: boolean): Promise<number> {
    return (await this.ask<{ seconds: number }>({ cmd: 'time', queries, partial })).seconds
  }

  async info(): Promise<{ version: string; maxRssBytes: number }> {
    const raw = await this.ask<{ version: string; max_rss_bytes: number }>({ cmd: 'info' })
    return { version: raw.version, maxRssBytes: raw.max_rss_bytes }
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve())
      this.child.stdin.end()
    })
  }
}
