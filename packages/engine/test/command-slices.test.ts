import { describe, expect, it } from 'vitest'
import {
  decodeCommandInSlices,
  encodeCommandInSlices,
  SLICE_DOCUMENTS,
} from '../src/internal/command-slices.ts'
import { type Command, decodeCommand, encodeCommand } from '../src/internal/commands.ts'

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
