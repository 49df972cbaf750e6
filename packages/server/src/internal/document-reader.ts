import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { parse as parseCsvStream } from 'csv-parse'

/**
 * Reads documents from a file for `shoal import`, one at a time, with the
 * line each came from. Bad lines are reported, not fatal: the reader yields
 * `{ error }` for them and goes on.
 */

export type DocumentFormat = 'json' | 'jsonl' | 'csv'

export type ReadItem =
  | { document: Record<string, unknown>; line: number; bytesRead: number }
  | { error: string; line: number; bytesRead: number }

export function formatOf(file: string, explicit?: string): DocumentFormat {
  const name = (explicit ?? file).toLowerCase()
  if (name.endsWith('jsonl') || name.endsWith('ndjson')) return 'jsonl'
  if (name.endsWith('csv')) return 'csv'
  if (name.endsWith('json')) return 'json'
  throw new Error(`cannot tell the format of ${file}: use a .json, .jsonl, .ndjson or .csv file, or --format`)
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size
}

export async function* readDocuments(file: string, format: DocumentFormat): AsyncGenerator<ReadItem> {
  if (format === 'jsonl') yield* readJsonLines(file)
  else if (format === 'csv') yield* readCsv(file)
  else yield* readJsonArray(file)
}

async function* readJsonLines(file: string): AsyncGenerator<ReadItem> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
  let line = 0
  let bytesRead = 0
  for await (const text of lines) {
    line++
    bytesRead += Buffer.byteLength(text) + 1
    if (text.trim() === '') continue
    try {
      const value = JSON.parse(text) as unknown
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield { error: 'not a JSON object', line, bytesRead }
      } else yield { document: value as Record<string, unknown>, line, bytesRead }
    } catch (error) {
      yield { error: `invalid JSON: ${(error as Error).message}`, line, bytesRead }
    }
  }
}

/** A JSON file holds one array (or one object); it is read whole, so a syntax error fails the file. */
async function* readJsonArray(file: string): AsyncGenerator<ReadItem> {
  const text = await readFile(file, 'utf8')
  const size = Buffer.byteLength(text)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    yield { error: `invalid JSON: ${(error as Error).message}`, line: 1, bytesRead: size }
    return
  }
  const items = Array.isArray(value) ? value : [value]
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as unknown
    const bytesRead = Math.round(((i + 1) / items.length) * size)
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      yield { error: `element ${i} is not an object`, line: i + 1, bytesRead }
    } else yield { document: item as Record<string, unknown>, line: i + 1, bytesRead }
  }
}

/** CSV with a header row; `name:number` and `name:boolean` headers type their column. */
async function* readCsv(file: string): AsyncGenerator<ReadItem> {
  const parser = createReadStream(file).pipe(
    parseCsvStream({ info: true, skip_empty_lines: true, relax_column_count: true }),
  )
  let columns: { name: string; kind: string }[] | undefined
  const records = parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number } }>
  try {
    for await (const record of records) {
      const item = toCsvItem(record, columns)
      if (Array.isArray(item)) columns = item
      else yield item
    }
  } catch (error) {
    // A broken quote leaves the rest of the file unreadable: report where and stop.
    const line = (error as { lines?: number }).lines ?? 0
    yield { error: `CSV syntax: ${(error as Error).message}`, line, bytesRead: 0 }
  }
}

function toCsvItem(
  record: { record: string[]; info: { lines: number; bytes: number } },
  columns: { name: string; kind: string }[] | undefined,
): ReadItem | { name: string; kind: string }[] {
  {
    const { lines: line, bytes: bytesRead } = record.info
    if (columns === undefined) {
      return record.record.map((h) => {
        const [name, kind] = h.split(':') as [string, string | undefined]
        return { name, kind: kind ?? 'string' }
      })
    }
    if (record.record.length !== columns.length) {
      return { error: `expected ${columns.length} fields, found ${record.record.length}`, line, bytesRead }
    }
    const document: Record<string, unknown> = {}
    let error: string | undefined
    columns.forEach((column, c) => {
      const cell = record.record[c] ?? ''
      if (cell === '') document[column.name] = null
      else if (column.kind === 'number') {
        const n = Number(cell)
        if (Number.isNaN(n)) error = `\`${cell}\` in column ${column.name} is not a number`
        document[column.name] = n
      } else if (column.kind === 'boolean') document[column.name] = cell === 'true'
      else document[column.name] = cell
    })
    return error === undefined ? { document, line, bytesRead } : { error, line, bytesRead }
  }
}
