import { LengthPrefixedDecoder } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'

/**
 * Noise messages are length-prefixed and cut apart by @libp2p/utils'
 * LengthPrefixedDecoder. Unpatched, it ended every chunk it decoded by asking
 * the length decoder to read an empty buffer and catching the RangeError it
 * threw: an Error with a stack trace for every chunk an encrypted connection
 * received. patches/@libp2p__utils@7.4.1.patch stops when nothing is left.
 */
function uint16Prefixed(...bodies: number[][]): Uint8Array {
  const out: number[] = []
  for (const body of bodies) out.push(body.length >> 8, body.length & 0xff, ...body)
  return Uint8Array.from(out)
}

describe('length-prefixed decoding (noise framing)', () => {
  it('yields every message, across chunk boundaries, without asking for a length in an empty buffer', () => {
    let emptyReads = 0
    const decoder = new LengthPrefixedDecoder({
      lengthDecoder: (data) => {
        if (data.byteLength === 0) emptyReads++
        if (data.byteLength < 2) throw new RangeError('Could not decode int16BE')
        const head = data.subarray(0, 2)
        return (head[0] as number) * 256 + (head[1] as number)
      },
      encodingLength: () => 2,
    })
    const bytes = uint16Prefixed([1, 2, 3], [4], [5, 6, 7, 8, 9])
    const messages: number[][] = []
    // Whole messages, then a split length prefix, then a split body.
    for (const chunk of [
      bytes.subarray(0, 7),
      bytes.subarray(7, 9),
      bytes.subarray(9, 11),
      bytes.subarray(11),
    ]) {
      for (const message of decoder.decode(chunk)) messages.push([...message.subarray()])
    }
    expect(messages).toEqual([[1, 2, 3], [4], [5, 6, 7, 8, 9]])
    expect(emptyReads).toBe(0)
  })
})
