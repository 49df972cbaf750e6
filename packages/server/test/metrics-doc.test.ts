import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

// docs/operations/metrics.md gives every metric a node exposes its meaning, an alert threshold
// and what to do. Every `shoal_*` name in the sources must have its row, and every row must name
// a metric that exists.

const SOURCES = ['../../server/src', '../../cluster/src'].map((p) => new URL(p, import.meta.url).pathname)
const DOC = new URL('../../../docs/operations/metrics.md', import.meta.url)

async function* typescriptFiles(folder: string): AsyncGenerator<string> {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name)
    if (entry.isDirectory()) yield* typescriptFiles(full)
    else if (entry.name.endsWith('.ts')) yield full
  }
}

async function metricNamesInSources(): Promise<Set<string>> {
  const names = new Set<string>()
  for (const folder of SOURCES)
    for await (const file of typescriptFiles(folder))
      for (const match of (await readFile(file, 'utf8')).matchAll(/['"`](shoal_[a-z0-9_]*[a-z0-9])['"`]/g))
        names.add(match[1]!)
  return names
}

describe('docs/operations/metrics.md', () => {
  it('has a row, with an alert and an action, for every metric the sources register, and none other', async () => {
    const doc = await readFile(DOC, 'utf8')
    const rows = new Map<string, string>()
    for (const line of doc.split('\n')) {
      const match = /^\| `(shoal_[a-z0-9_]+)[{`]/.exec(line)
      if (match !== null) rows.set(match[1]!, line)
    }
    const registered = await metricNamesInSources()
    expect(registered.size).toBeGreaterThan(40)
    expect([...registered].filter((name) => !rows.has(name)).sort()).toEqual([])
    expect([...rows.keys()].filter((name) => !registered.has(name)).sort()).toEqual([])
    for (const [name, row] of rows) expect(row.split(/(?<!\\)\|/).length, name).toBe(6)
  })
})
