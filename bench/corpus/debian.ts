/**
 * The Debian package corpus for full-text benchmarks: real text that nobody on this project
 * wrote and that every Debian machine can rebuild.
 *
 * - `loadDebianCorpus()` reads `debian-packages.jsonl.gz` (one `{ id, package, section, summary,
 *   description }` per line, `id` = line number) from `$SHOAL_DEBIAN_CORPUS`, or the shared
 *   datasets folder, or `bench/.cache/` where `--rebuild` writes it.
 * - `knownItemQueries(docs, seed, count)` samples packages with a seeded generator and takes 2–4
 *   content words of each one's summary as a query whose target is that package;
 *   `splitKnownItemQueries(queries, seed)` splits them into a tuning and a held-out set.
 * - `node bench/corpus/debian.ts --rebuild [out.jsonl.gz]` rebuilds the file from
 *   `apt-cache dumpavail` (package, section, summary) and apt's English translation indexes
 *   (long descriptions). Those indexes are fetched only when apt is told to, e.g.
 *   `echo 'Acquire::Languages { "en"; };' > /etc/apt/apt.conf.d/99translations && apt-get update`;
 *   without them the description is whatever `dumpavail` carries (often only the summary).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync, gzipSync } from 'node:zlib'
import { mulberry32 } from '../src/rng.ts'

export interface DebianPackage {
  id: number
  name: string
  section: string
  summary: string
  description: string
}

export interface KnownItemQuery {
  query: string
  /** The id of the package the query was drawn from. */
  target: number
}

const here = path.dirname(fileURLToPath(import.meta.url))
const FILE = 'debian-packages.jsonl.gz'

/**
 * Where the corpus is read from, first existing wins: `$SHOAL_DEBIAN_CORPUS`,
 * `$SHOAL_SHARED_DIR/datasets`, the shared folder beside the repository,
 * `/work/shared`, then the `--rebuild` cache.
 */
export function debianCorpusPaths(): string[] {
  const env = process.env.SHOAL_DEBIAN_CORPUS
  const shared = process.env.SHOAL_SHARED_DIR
  return [
    ...(env === undefined ? [] : [env]),
    ...(shared === undefined ? [] : [path.join(shared, 'datasets', FILE)]),
    path.resolve(here, '../../../shared/datasets', FILE),
    `/work/shared/datasets/${FILE}`,
    path.resolve(here, '../.cache', FILE),
  ]
}

/** The first existing path of `debianCorpusPaths()`; throws naming them all when none exists. */
export function debianCorpusFile(): string {
  const file = debianCorpusPaths().find((p) => existsSync(p))
  if (file === undefined) {
    throw new Error(`${FILE} not found (looked in ${debianCorpusPaths().join(', ')}); run --rebuild`)
  }
  return file
}

/** The corpus in file order; `limit` keeps the first documents only. */
export function loadDebianCorpus(options: { limit?: number; file?: string } = {}): DebianPackage[] {
  const file = options.file ?? debianCorpusFile()
  const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n')
  const docs: DebianPackage[] = []
  for (const line of lines) {
    if (line.length === 0) continue
    const row = JSON.parse(line) as {
      id: number
      package: string
      section: string
      summary: string
      description: string
    }
    docs.push({
      id: row.id,
      name: row.package,
      section: row.section,
      summary: row.summary,
      description: row.description,
    })
    if (options.limit !== undefined && docs.length >= options.limit) break
  }
  return docs
}

// Function words that make poor known-item query words.
const FUNCTION_WORDS = new Set(
  (
    'a an and are as at be by for from has have in into is it its of on or that the this to with ' +
    'without via using use used based which your you can will not all any other more most also'
  ).split(' '),
)

/** Content words of a summary: lower-cased alphanumeric words of 3+ characters, no function words. */
export function contentWords(text: string): string[] {
  const words = text.toLowerCase().match(/[a-z0-9]+/g) ?? []
  return [...new Set(words.filter((w) => w.length >= 3 && !FUNCTION_WORDS.has(w)))]
}

/**
 * `count` known-item queries: a package drawn with `mulberry32(seed)` whose summary has at least
 * two content words gives 2–4 of them (in summary order); the target is that package.
 */
export function knownItemQueries(
  docs: readonly DebianPackage[],
  seed: number,
  count: number,
): KnownItemQuery[] {
  const random = mulberry32(seed)
  const queries: KnownItemQuery[] = []
  for (let attempt = 0; queries.length < count && attempt < count * 50; attempt++) {
    const doc = docs[Math.floor(random() * docs.length)]!
    const words = contentWords(doc.summary)
    if (words.length < 2) continue
    const take = Math.min(words.length, 2 + Math.floor(random() * 3))
    const picked = new Set<number>()
    while (picked.size < take) picked.add(Math.floor(random() * words.length))
    const query = [...picked]
      .sort((a, b) => a - b)
      .map((i) => words[i]!)
      .join(' ')
    queries.push({ query, target: doc.id })
  }
  return queries
}

/** The judged queries split in two: `tuning` to choose configurations on, `heldOut` to report. */
export interface QuerySplit {
  tuning: KnownItemQuery[]
  heldOut: KnownItemQuery[]
}

/** The share of the judged queries that goes to tuning; the rest is held out. */
export const TUNING_SHARE = 0.4

/**
 * Splits known-item queries into a tuning set and a held-out set, fixed by `seed`: each query
 * draws a number from `mulberry32(seed ^ 0x5e1ec7)` in order and goes to tuning when it is below
 * `TUNING_SHARE`. Analyzer options, boosts and every peer's options are chosen on `tuning`;
 * MRR@10 is reported on `heldOut` only, so no figure is taken on the queries it was tuned on.
 */
export function splitKnownItemQueries(queries: readonly KnownItemQuery[], seed: number): QuerySplit {
  const random = mulberry32((seed ^ 0x5e1ec7) >>> 0)
  const split: QuerySplit = { tuning: [], heldOut: [] }
  for (const q of queries) (random() < TUNING_SHARE ? split.tuning : split.heldOut).push(q)
  return split
}

/** Mean reciprocal rank of the target within the first 10 results, and the share found there. */
export function knownItemQuality(
  queries: readonly KnownItemQuery[],
  results: ReadonlyArray<ArrayLike<number>>,
): { mrrAt10: number; successAt10: number } {
  let reciprocal = 0
  let found = 0
  queries.forEach((q, i) => {
    const ids = results[i]!
    for (let rank = 0; rank < Math.min(10, ids.length); rank++) {
      if (ids[rank] === q.target) {
        reciprocal += 1 / (rank + 1)
        found++
        break
      }
    }
  })
  return { mrrAt10: reciprocal / queries.length, successAt10: found / queries.length }
}

// ---- rebuilding from apt ----

function stanzas(text: string): Array<Map<string, string>> {
  const out: Array<Map<string, string>> = []
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    let key = ''
    for (const line of block.split('\n')) {
      if (line.startsWith(' ') && key !== '') fields.set(key, `${fields.get(key)}\n${line}`)
      else {
        const colon = line.indexOf(':')
        if (colon <= 0) continue
        key = line.slice(0, colon)
        fields.set(key, line.slice(colon + 1).trim())
      }
    }
    if (fields.size > 0) out.push(fields)
  }
  return out
}

// Debian control-file long descriptions: continuation lines start with a space; " ." is a blank line.
function splitDescription(value: string): { summary: string; description: string } {
  const [summary = '', ...rest] = value.split('\n')
  const description = rest.map((line) => (line.trim() === '.' ? '' : line.slice(1))).join('\n')
  return { summary: summary.trim(), description: description.trim() }
}

function translations(): Map<string, string> {
  const byMd5 = new Map<string, string>()
  const folder = '/var/lib/apt/lists'
  const files = existsSync(folder) ? readdirSync(folder).filter((f) => f.includes('Translation-en')) : []
  for (const file of files) {
    const text = execFileSync('/usr/lib/apt/apt-helper', ['cat-file', path.join(folder, file)], {
      maxBuffer: 1 << 30,
    }).toString('utf8')
    for (const stanza of stanzas(text)) {
      const md5 = stanza.get('Description-md5')
      const long = stanza.get('Description-en')
      if (md5 !== undefined && long !== undefined) byMd5.set(md5, splitDescription(long).description)
    }
  }
  return byMd5
}

/** Rebuilds the corpus file from this machine's apt lists; returns the number of packages. */
export function rebuildDebianCorpus(out: string): number {
  const dump = execFileSync('apt-cache', ['dumpavail'], { maxBuffer: 1 << 30 }).toString('utf8')
  const long = translations()
  const byName = new Map<string, Omit<DebianPackage, 'id'>>()
  for (const stanza of stanzas(dump)) {
    const name = stanza.get('Package')
    const description = stanza.get('Description')
    if (name === undefined || description === undefined || byName.has(name)) continue
    const split = splitDescription(description)
    const md5 = stanza.get('Description-md5')
    const fromTranslation = md5 === undefined ? undefined : long.get(md5)
    byName.set(name, {
      name,
      section: stanza.get('Section') ?? '',
      summary: split.summary,
      description: fromTranslation ?? split.description,
    })
  }
  const names = [...byName.keys()].sort()
  const lines = names.map((name, id) => {
    const p = byName.get(name)!
    return JSON.stringify({
      id,
      package: name,
      section: p.section,
      summary: p.summary,
      description: p.description,
    })
  })
  writeFileSync(out, gzipSync(`${lines.join('\n')}\n`))
  return names.length
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  if (args[0] === '--rebuild') {
    const out = args[1] ?? path.resolve(here, '../.cache', FILE)
    const count = rebuildDebianCorpus(out)
    process.stdout.write(`${count} packages → ${out}\n`)
  } else {
    const docs = loadDebianCorpus()
    const queries = knownItemQueries(docs, Number(process.env.SEED ?? 42), 5)
    process.stdout.write(`${docs.length} packages; sample queries:\n`)
    for (const q of queries) process.stdout.write(`  ${q.query} → ${docs[q.target]!.name}\n`)
  }
}
