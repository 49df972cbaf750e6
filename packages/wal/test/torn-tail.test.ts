import { readFile, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { SimFileSystem } from '@shoal/testkit/fs'
import { describe, expect, it } from 'vitest'
import { dumpWal, Wal, WalCorruptionError } from '../src/index.ts'
import { payloadFor, readAll, sleep, slowSyncs, tempDir } from './helpers.ts'

const SEGMENT_HEADER_BYTES = 32
const FRAME_HEADER_BYTES = 16

/** A WAL of `count` records in one segment, built on a simulated filesystem; returns the segment and frame offsets. */
async function build(count: number, batched = false) {
  const fs = new SimFileSystem()
  const wal = await Wal.open('/wal', { fs })
  if (batched) await wal.appendBatch(Array.from({ length: count }, (_, i) => payloadFor(i + 1)))
  else for (let i = 1; i <= count; i++) await wal.append(payloadFor(i))
  const segment = `/wal/${wal.segmentNames.at(-1)}`
  await wal.close()
  const offsets: number[] = []
  let offset = SEGMENT_HEADER_BYTES
  for (let i = 1; i <= count; i++) {
    offsets.push(offset)
    offset += FRAME_HEADER_BYTES + payloadFor(i).length
  }
  offsets.push(offset)
  return { fs, segment, bytes: fs.peek(segment)!.slice(), offsets }
}

describe('torn tail', () => {
  it('recovers to the last whole record when the last segment is cut at every byte offset of its last records', async () => {
    const count = 12
    const { fs, segment, bytes, offsets } = await build(count)
    const from = offsets[count - 4]!
    for (let cut = from; cut < bytes.length; cut++) {
      fs.poke(segment, bytes.subarray(0, cut))
      // Small read chunks put chunk boundaries inside headers and payloads too.
      const wal = await Wal.open('/wal', { fs, readChunkBytes: 64 + (cut % 40) })
      // Cuts inside the end marker after the last record leave every record whole.
      const whole = offsets.filter((o, i) => i > 0 && o <= cut).length
      expect(wal.lastIndex, `cut at ${cut}`).toBe(whole)
      const records = await readAll(wal)
      expect(records.map((r) => r.index)).toEqual(Array.from({ length: whole }, (_, i) => i + 1))
      for (const record of records) expect(record.payload).toEqual(payloadFor(record.index))
      if (offsets.includes(cut) || cut > offsets[count]!) expect(wal.recovery.tornTail).toBeUndefined()
      else
        expect(wal.recovery.tornTail).toMatchObject({ offset: offsets[whole], bytes: cut - offsets[whole]! })
      // The WAL continues cleanly after the cut.
      expect(await wal.append(payloadFor(whole + 1))).toBe(whole + 1)
      await wal.close()
      const again = await Wal.open('/wal', { fs })
      expect(again.lastIndex).toBe(whole + 1)
      expect(again.recovery.tornTail).toBeUndefined()
      await again.close()
    }
  })

  it('treats garbage after the last record as a torn tail', async () => {
    const { fs, segment, bytes, offsets } = await build(5)
    // The records without their end marker, then garbage.
    const garbage = new Uint8Array(offsets[5]! + 40)
    garbage.set(bytes.subarray(0, offsets[5]))
    garbage.fill(0xab, offsets[5])
    fs.poke(segment, garbage)
    const wal = await Wal.open('/wal', { fs })
    expect(wal.lastIndex).toBe(5)
    expect(wal.recovery.tornTail).toMatchObject({ offset: offsets[5], bytes: 40 })
    await wal.close()
  })

  it('recovers on the real filesystem too', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const wal = await Wal.open(dir)
      for (let i = 1; i <= 10; i++) await wal.append(payloadFor(i))
      const file = path.join(dir, wal.segmentNames[0]!)
      await wal.close()
      const size = (await readFile(file)).length
      // Cut the end marker and the last 3 bytes of record 10.
      await truncate(file, size - FRAME_HEADER_BYTES - 3)
      const reopened = await Wal.open(dir)
      expect(reopened.lastIndex).toBe(9)
      expect(reopened.recovery.tornTail?.bytes).toBe(FRAME_HEADER_BYTES + payloadFor(10).length - 3)
      await reopened.close()
    } finally {
      await cleanup()
    }
  })
})

describe('dumpWal', () => {
  it('reports each segment and where its valid data stops, changing nothing', async () => {
    const { fs, segment, bytes, offsets } = await build(6)
    const flipped = bytes.slice()
    flipped[offsets[3]! + 20]! ^= 1
    fs.poke(segment, flipped)
    const dump = await dumpWal('/wal', { fs })
    expect(dump).toEqual([
      {
        name: segment.slice('/wal/'.length),
        firstIndex: 1,
        fileBytes: bytes.length,
        records: 3,
        dataEnd: offsets[3],
        stop: { offset: offsets[3], index: 4, reason: 'checksum mismatch' },
      },
    ])
    expect(fs.peek(segment)).toEqual(flipped)
  })
})

describe('corruption', () => {
  it('refuses to open on a bit flip inside an earlier record of the last segment, naming segment, offset and index', async () => {
    const { fs, segment, bytes, offsets } = await build(10)
    for (const target of [3, 7]) {
      for (const within of [0, 5, 9, 17]) {
        const flipped = bytes.slice()
        const at = offsets[target - 1]! + within
        flipped[at]! ^= 0x10
        fs.poke(segment, flipped)
        const error = await Wal.open('/wal', { fs }).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(WalCorruptionError)
        const corruption = error as WalCorruptionError
        expect(corruption.segment).toBe(segment.slice('/wal/'.length))
        expect(corruption.offset).toBe(offsets[target - 1])
        expect(corruption.index).toBe(target)
      }
    }
    // Untouched data still opens.
    fs.poke(segment, bytes)
    const wal = await Wal.open('/wal', { fs })
    expect(wal.lastIndex).toBe(10)
    await wal.close()
  })

  it('calls a bit flip in the next-to-last write corruption: the last write proves it had been synced', async () => {
    const { fs, segment, bytes, offsets } = await build(10)
    const flipped = bytes.slice()
    flipped[offsets[8]! + 20]! ^= 0x01
    fs.poke(segment, flipped)
    const error = await Wal.open('/wal', { fs }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WalCorruptionError)
    expect((error as WalCorruptionError).index).toBe(9)
  })

  it('needs two later writes to call it corruption when the later write overlapped the sync before it', async () => {
    const sim = new SimFileSystem()
    const { fs, stats } = slowSyncs(sim, () => sleep(2))
    const wal = await Wal.open('/wal', { fs, pipelineBytes: 100 })
    // Two appends of 200 bytes in one turn: the second write starts while the first one's sync runs.
    await Promise.all([wal.append(payloadFor(1, 200)), wal.append(payloadFor(2, 200))])
    expect(stats.maxInFlight).toBe(2)
    const segment = `/wal/${wal.segmentNames[0]}`
    const twoWrites = sim.peek(segment)!.slice()
    await wal.append(payloadFor(3, 200))
    const threeWrites = sim.peek(segment)!.slice()
    await wal.close()
    const firstPayload = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 50
    // Damage in the first write with only the overlapping one after it: a torn tail (both cut).
    const torn = twoWrites.slice()
    torn[firstPayload]! ^= 0x01
    sim.poke(segment, torn)
    const reopened = await Wal.open('/wal', { fs: sim })
    expect(reopened.lastIndex).toBe(0)
    expect(reopened.recovery.tornTail).toMatchObject({ offset: SEGMENT_HEADER_BYTES })
    await reopened.close()
    // With a third write after them, the first had been synced: corruption.
    const corrupt = threeWrites.slice()
    corrupt[firstPayload]! ^= 0x01
    sim.poke(segment, corrupt)
    await expect(Wal.open('/wal', { fs: sim })).rejects.toBeInstanceOf(WalCorruptionError)
  })

  it('tells corruption from a torn tail in a preallocated, zero-filled segment too', async () => {
    const fs = new SimFileSystem()
    const options = { fs, preallocate: true, segmentBytes: 64 * 1024 }
    const wal = await Wal.open('/wal', options)
    for (let i = 1; i <= 6; i++) await wal.append(payloadFor(i))
    const segment = `/wal/${wal.segmentNames[0]}`
    await wal.close()
    const bytes = fs.peek(segment)!.slice()
    expect(bytes.length).toBe(64 * 1024)
    // A torn last record followed by zeros: cut, and the WAL opens.
    const torn = bytes.slice()
    const lastFrame =
      SEGMENT_HEADER_BYTES +
      [1, 2, 3, 4, 5].reduce((sum, i) => sum + FRAME_HEADER_BYTES + payloadFor(i).length, 0)
    torn.fill(0, lastFrame + 5, lastFrame + 12)
    fs.poke(segment, torn)
    const recovered = await Wal.open('/wal', options)
    expect(recovered.lastIndex).toBe(5)
    expect(recovered.recovery.tornTail?.offset).toBe(lastFrame)
    await recovered.close()
    // A flipped bit in record 2, with later writes intact: corruption.
    const flipped = bytes.slice()
    flipped[SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + payloadFor(1).length + 18]! ^= 2
    fs.poke(segment, flipped)
    await expect(Wal.open('/wal', options)).rejects.toMatchObject({ name: 'WalCorruptionError', index: 2 })
  })

  it('refuses to open on a bit flip in an earlier segment, and reads find it under verify: tail', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs, segmentBytes: 256 })
    for (let i = 1; i <= 60; i++) await wal.append(payloadFor(i))
    const names = wal.segmentNames
    await wal.close()
    expect(names.length).toBeGreaterThan(3)
    const second = `/wal/${names[1]}`
    const original = fs.peek(second)!.slice()
    const flipped = original.slice()
    flipped[SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 2]! ^= 1
    fs.poke(second, flipped)
    await expect(Wal.open('/wal', { fs, segmentBytes: 256 })).rejects.toBeInstanceOf(WalCorruptionError)
    const lazy = await Wal.open('/wal', { fs, segmentBytes: 256, verify: 'tail' })
    await expect(readAll(lazy)).rejects.toMatchObject({
      name: 'WalCorruptionError',
      segment: names[1],
      offset: SEGMENT_HEADER_BYTES,
    })
    await lazy.close()
  })

  it('truncates at the corruption only when asked to repair, and reports what it dropped', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs, segmentBytes: 256 })
    for (let i = 1; i <= 60; i++) await wal.append(payloadFor(i))
    const names = wal.segmentNames
    await wal.close()
    const second = `/wal/${names[1]}`
    const flipped = fs.peek(second)!.slice()
    const secondFirst = Number(names[1]!.slice(0, 20))
    const at = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + payloadFor(secondFirst).length + 4
    flipped[at]! ^= 0x80
    fs.poke(second, flipped)
    const repaired = await Wal.open('/wal', { fs, segmentBytes: 256, repair: true })
    expect(repaired.lastIndex).toBe(secondFirst)
    expect(repaired.recovery.repaired).toMatchObject({ segment: names[1], index: secondFirst + 1 })
    expect(repaired.recovery.repaired?.removedSegments).toEqual(names.slice(2))
    expect((await readAll(repaired)).map((r) => r.index)).toEqual(
      Array.from({ length: secondFirst }, (_, i) => i + 1),
    )
    await repaired.close()
  })

  it('detects a bit flip on the real filesystem', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const wal = await Wal.open(dir)
      for (let i = 1; i <= 10; i++) await wal.append(payloadFor(i))
      const file = path.join(dir, wal.segmentNames[0]!)
      await wal.close()
      const bytes = await readFile(file)
      bytes[SEGMENT_HEADER_BYTES + 20]! ^= 4
      await writeFile(file, bytes)
      await expect(Wal.open(dir)).rejects.toMatchObject({ code: 'WAL_CORRUPTION', index: 1 })
    } finally {
      await cleanup()
    }
  })
})
