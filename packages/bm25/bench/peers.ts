import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'
import { create, insertMultiple, search as oramaSearch } from '@orama/orama'
import { Index as FlexIndex } from 'flexsearch'
import MiniSearch from 'minisearch'
import type { DebianPackage } from '../../../bench/corpus/debian.ts'

/** Field weights every engine that has them gets, and the text of each field. */
export const BOOSTS = { name: 2, summary: 8, description: 1 }

/** The name field: the package name and its dash/dot-separated parts, so 'python3-numpy' matches 'numpy'. */
export function nameText(doc: DebianPackage): string {
  return `${doc.name.replace(/[-.+_]/g, ' ')} ${doc.name}`
}

/** An engine under test: build once, then answer queries with ranked document ids. */
export interface Engine {
  search(query: string): ArrayLike<number>
}

/** Words of a query, for engines that take a query language (FTS5). */
function queryWords(query: string): string[] {
  return query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
}

export function buildMiniSearch(docs: readonly DebianPackage[]): Engine {
  const index = new MiniSearch<{ id: number; name: string; summary: string; description: string }>({
    fields: ['name', 'summary', 'description'],
    searchOptions: {
      boost: { name: BOOSTS.name, summary: BOOSTS.summary },
      prefix: (_term: string, i: number, terms: string[]) => i === terms.length - 1,
    },
  })
  index.addAll(
    docs.map((d) => ({ id: d.id, name: nameText(d), summary: d.summary, description: d.description })),
  )
  return {
    search: (query) =>
      index
        .search(query)
        .slice(0, 10)
        .map((r) => r.id as number),
  }
}

export async function buildOrama(docs: readonly DebianPackage[]): Promise<Engine> {
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
  return {
    search: (query) => {
      const result = oramaSearch(db, {
        term: query,
        limit: 10,
        boost: { name: BOOSTS.name, summary: BOOSTS.summary },
      })
      if (result instanceof Promise) throw new Error('Orama search unexpectedly asynchronous')
      return result.hits.map((hit) => Number(hit.id))
    },
  }
}

export function buildFlexSearch(docs: readonly DebianPackage[]): Engine {
  const index = new FlexIndex({ tokenize: 'forward' })
  for (const d of docs) index.add(d.id, `${nameText(d)} ${d.summary} ${d.description}`)
  return { search: (query) => index.search(query, 10) as number[] }
}

export function buildSqlite(docs: readonly DebianPackage[]): Engine & { close(): void } {
  // Node's built-in SQLite (node:sqlite, FTS5 compiled in): better-sqlite3's native addon needs
  // Node headers matching the running Node, which an offline machine may not have.
  const db = new DatabaseSync(':memory:')
  db.exec(
    "CREATE VIRTUAL TABLE docs USING fts5(name, summary, description, tokenize = 'porter unicode61 remove_diacritics 2')",
  )
  const insert = db.prepare('INSERT INTO docs(rowid, name, summary, description) VALUES (?, ?, ?, ?)')
  db.exec('BEGIN')
  for (const d of docs) insert.run(d.id, nameText(d), d.summary, d.description)
  db.exec('COMMIT')
  const select = db.prepare(
    `SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, ${BOOSTS.name}, ${BOOSTS.summary}, ${BOOSTS.description}) LIMIT 10`,
  )
  return {
    search: (query) => {
      const words = queryWords(query)
      if (words.length === 0) return []
      // OR of the words, the last one as a prefix: ranked retrieval like the other engines.
      const match = words.map((w, i) => `"${w}"${i === words.length - 1 ? '*' : ''}`).join(' OR ')
      return select.all(match).map((row) => row.rowid as number)
    },
    close: () => db.close(),
  }
}

export interface XapianReport {
  version: string
  buildSeconds: number
  docs: number
  queriesPerSecond: number
  maxRssBytes: number
  results: number[][]
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

/** Runs bench/xapian_peer.py on the same corpus file and queries. */
export function runXapian(
  corpusFile: string,
  limit: number,
  queries: readonly string[],
  repeats: number,
): XapianReport {
  const folder = mkdtempSync(path.join(tmpdir(), 'shoal-bm25-bench-'))
  try {
    const queryFile = path.join(folder, 'queries.json')
    writeFileSync(queryFile, JSON.stringify(queries))
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'xapian_peer.py')
    const out = execFileSync(PYTHON, [script, corpusFile, String(limit), queryFile, String(repeats)], {
      maxBuffer: 1 << 28,
    }).toString('utf8')
    const raw = JSON.parse(out) as {
      version: string
      build_seconds: number
      docs: number
      queries_per_second: number
      max_rss_bytes: number
      results: number[][]
    }
    return {
      version: raw.version,
      buildSeconds: raw.build_seconds,
      docs: raw.docs,
      queriesPerSecond: raw.queries_per_second,
      maxRssBytes: raw.max_rss_bytes,
      results: raw.results,
    }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}
