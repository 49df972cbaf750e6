import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { open } from '../src/index.ts'
import {
  decodeCommandInSlices,
  encodeCommandInSlices,
  encodeValueInSlices,
  SLICE_DOCUMENTS,
  SLICE_ITEMS,
} from '../src/internal/command-slices.ts'
import { type Command, decodeCommand, encodeCommand, encodeValue } from '../src/internal/commands.ts'
import { removeDir, tempDir } from './helpers.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
})

function documentWrite(count: number): Command {
  return {
    type: 'addDocuments',
    uid: 'docs',
    documents: Array.from({ length: count }, (_, i) =>
      // Small documents where only the array32 header is under test.
      count > 0xffff
        ? { id: i }
        : {
            id: i,
            title: `document ${i} ${'é'.repeat(i % 5)}`,
            nested: { tags: [`t${i % 3}`], score: i / 7, missing: null },
            _vectors: { text: [i / 3, -1.5, 2 ** 40] },
          },
    ),
    primaryKey: 'id',
    merge: count % 2 === 0,
    at: '2026-12-08T00:00:00.000Z',
  }
}

describe('document writes encoded and decoded in slices', () => {
  // Array headers change at 16 and 65,536 items; slices end at multiples of SLICE_DOCUMENTS.
  for (const count of [0, 5, SLICE_DOCUMENTS, SLICE_DOCUMENTS + 1, 1000, 70_000]) {
    it(`give the one-shot encoding's bytes and decode to its command (${count} documents)`, async () => {
      const command = documentWrite(count)
      let pauses = 0
      const pause = async () => {
        pauses++
      }
      const encoded = await encodeCommandInSlices(command, pause)
      expect(Buffer.from(encoded.payload).equals(Buffer.from(encodeCommand(command)))).toBe(true)
      expect(await decodeCommandInSlices(encoded, command, pause)).toEqual(decodeCommand(encoded.payload))
      // Encoding and decoding each pause once between two slices.
      expect(pauses).toBe(count > SLICE_DOCUMENTS ? 2 * (Math.ceil(count / SLICE_DOCUMENTS) - 1) : 0)
    })
  }

  it('leave other commands to the one-shot encoding', async () => {
    const command: Command = { type: 'deleteDocuments', uid: 'docs', ids: [1, 'a'], at: 'now' }
    const encoded = await encodeCommandInSlices(command, async () => {})
    expect(encoded.documentSlices).toBeUndefined()
    expect(Buffer.from(encoded.payload).equals(Buffer.from(encodeCommand(command)))).toBe(true)
  })
})

describe('snapshot images encoded in slices', () => {
  it('give the one-shot encoding of any value, pausing within long arrays only', async () => {
    const value = {
      format: 2,
      indexes: [
        { keys: Array.from({ length: 3 * SLICE_ITEMS + 5 }, (_, i) => `k${i}`), bytes: new Uint8Array(9) },
        // A long byte array is laid out by the slices that copy the whole encoding.
        { long: Uint8Array.from({ length: 3 << 20 }, (_, i) => i % 251), edge: new Uint8Array(1 << 16) },
      ],
      nested: { short: [1, 2, 3], withUndefined: { a: undefined, b: 1 } },
      nothing: null,
    }
    let pauses = 0
    const bytes = await encodeValueInSlices(value, async () => {
      pauses++
    })
    expect(Buffer.from(bytes).equals(Buffer.from(encodeValue(value)))).toBe(true)
    // 4 within the long array, 3 between the MiBs of the 3 MiB the encoding takes and more.
    expect(pauses).toBe(7)
  })

  it('a snapshot written in slices holds the bytes of the image taken at once', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('docs', {
      primaryKey: 'id',
      settings: {
        filterableAttributes: ['kind'],
        embedders: { text: { source: 'userProvided', dimensions: 3 } },
      },
    })
    await engine.index('docs').addDocuments(
      Array.from({ length: 2 * SLICE_ITEMS + 100 }, (_, i) => ({
        id: i,
        kind: `k${i % 5}`,
        text: `document ${i}`,
        _vectors: { text: [1, i % 7, (i % 3) + 1] },
      })),
    )
    await engine.whenVectorsIndexed()
    await engine.snapshot()
    const files = await readdir(path.join(dir, 'snapshots'))
    const written = await readFile(path.join(dir, 'snapshots', files.sort().at(-1)!))
    expect(written.equals(Buffer.from(engine.image()))).toBe(true)
    await engine.close()
  })

  it('imageInSlices gives the bytes of image() as of its call, whatever is applied while it encodes', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('docs', { primaryKey: 'id', settings: { filterableAttributes: ['kind'] } })
    const documents = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        id: from + i,
        kind: `k${i % 5}`,
        text: `document ${from + i}`,
      }))
    await engine.index('docs').addDocuments(documents(0, 3 * SLICE_ITEMS))
    const before = Buffer.from(engine.image())
    const sliced = engine.imageInSlices()
    const later = engine.index('docs').addDocuments(documents(3 * SLICE_ITEMS, 50))
    expect(Buffer.from(await sliced).equals(before)).toBe(true)
    await later
    expect(Buffer.from(await engine.imageInSlices()).equals(before)).toBe(false)
    await engine.close()
  })

  it('imageInSlices of a restored database gives image() as of its call, with replacements, deletions and searches meanwhile', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const engine = await open(dir, { sync: 'none', snapshotEvery: 0 })
    await engine.createIndex('docs', { primaryKey: 'id', settings: { filterableAttributes: ['kind'] } })
    const words = (n: number) =>
      Array.from({ length: 40 }, (_, j) => `w${(n * 31 + j * 17) % 3000}`).join(' ')
    const documents = (from: number, count: number, salt = 0) =>
      Array.from({ length: count }, (_, i) => ({
        id: from + i,
        kind: `k${i % 5}`,
        text: words(from + i + salt),
      }))
    // About 200,000 postings: the text index is encoded in several slices.
    await engine.index('docs').addDocuments(documents(0, 5000))
    // Restored, the documents are held as bytes (the image's column), not objects.
    await engine.restoreImage(engine.image())
    await engine.index('docs').addDocuments(documents(0, 200, 7))
    const before = Buffer.from(engine.image())
    const sliced = engine.imageInSlices()
    const writes = (async () => {
      await engine.index('docs').addDocuments(documents(100, 300, 3))
      await engine.index('docs').deleteDocuments(Array.from({ length: 900 }, (_, i) => i * 5))
    })()
    const searches = (async () => {
      for (let i = 0; i < 20; i++) {
        engine.index('docs').search({ q: `w${i * 7}`, limit: 5 })
        await new Promise((resolve) => setImmediate(resolve))
      }
    })()
    expect(Buffer.from(await sliced).equals(before)).toBe(true)
    await Promise.all([writes, searches])
    const after = Buffer.from(engine.image())
    expect(after.equals(before)).toBe(false)
    expect(Buffer.from(await engine.imageInSlices()).equals(after)).toBe(true)
    await engine.close()
  })
})
