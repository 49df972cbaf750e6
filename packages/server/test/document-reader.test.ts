import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { progressLine } from '../src/internal/cli-import.ts'
import { formatOf, type ReadItem, readDocuments } from '../src/internal/document-reader.ts'

async function collect(file: string, format: 'json' | 'jsonl' | 'csv'): Promise<ReadItem[]> {
  const items: ReadItem[] = []
  for await (const item of readDocuments(file, format)) items.push(item)
  return items
}

describe('import file reader', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoal-reader-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reports bad JSON lines with their line numbers and keeps the good ones', async () => {
    const file = path.join(dir, 'docs.ndjson')
    await writeFile(file, '{"id":1}\n{"id":2\n\n[3]\n{"id":4}\n')
    const items = await collect(file, formatOf(file))
    expect(items.filter((i) => 'document' in i).map((i) => ('document' in i ? i.document.id : null))).toEqual(
      [1, 4],
    )
    expect(items.filter((i) => 'error' in i).map((i) => i.line)).toEqual([2, 4])
  })

  it('reads CSV with typed headers and reports rows with a wrong field count or a bad number', async () => {
    const file = path.join(dir, 'docs.csv')
    await writeFile(file, 'id:number,title\n1,first\n2\nx,third\n4,"fourth, with comma"\n')
    const items = await collect(file, 'csv')
    expect(items.flatMap((i) => ('document' in i ? [i.document] : []))).toEqual([
      { id: 1, title: 'first' },
      { id: 4, title: 'fourth, with comma' },
    ])
    expect(items.flatMap((i) => ('error' in i ? [i.line] : []))).toEqual([3, 4])
  })

  it('reads a JSON array and reports elements that are not objects', async () => {
    const file = path.join(dir, 'docs.json')
    await writeFile(file, '[{"id":1}, 7, {"id":3}]')
    const items = await collect(file, 'json')
    expect(items.map((i) => ('error' in i ? `bad ${i.line}` : i.document.id))).toEqual([1, 'bad 2', 3])
  })

  it('draws progress with documents per second and an ETA', () => {
    expect(progressLine(50, 100, 1000, 2)).toBe(
      '[############------------]  50% 1,000 docs  500 docs/s  ETA 2s',
    )
  })
})
