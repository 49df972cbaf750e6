import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { SimFileSystem } from '@shoal/testkit/fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  Wal,
  WalArgumentError,
  WalClosedError,
  WalConfigError,
  WalIndexError,
  WalPayloadTooLargeError,
} from '../src/index.ts'
import { payloadFor, readAll, sleep, slowSyncs, tempDir } from './helpers.ts'

let dir: string
let cleanup: () => Promise<void>
beforeEach(async () => {
  ;({ dir, cleanup } = await tempDir())
})
afterEach(async () => {
  await cleanup()
})

describe('Wal on the real filesystem', () => {
  it('gives indexes from 1 in call order and reads them back after reopening', async () => {
    const wal = await Wal.open(dir)
    expect(wal.firstIndex).toBe(1)
    expect(wal.lastIndex).toBe(0)
    const indexes = await Promise.all(Array.from({ length: 100 }, (_, i) => wal.append(payloadFor(i + 1))))
    expect(indexes).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect(await wal.appendBatch([payloadFor(101), payloadFor(102)])).toBe(102)
    await wal.close()
    const reopened = await Wal.open(dir)
    expect(reopened.lastIndex).toBe(102)
    expect(reopened.recovery.tornTail).toBeUndefined()
    const records = await readAll(reopened)
    expect(records.map((r) => r.index)).toEqual(Array.from({ length: 102 }, (_, i) => i + 1))
    for (const record of records) expect(record.payload).toEqual(payloadFor(record.index))
    await reopened.close()
  })

  it('reads a sub-range and caps `to` at lastIndex', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 1024 })
    for (let i = 1; i <= 300; i++) await wal.append(payloadFor(i))
    const got: number[] = []
    for await (const record of wal.read(130, 1000)) got.push(record.index)
    expect(got).toEqual(Array.from({ length: 171 }, (_, i) => 130 + i))
    const some: number[] = []
    for await (const batch of wal.readBatches(5, 9)) some.push(...batch.map((r) => r.index))
    expect(some).toEqual([5, 6, 7, 8, 9])
    await wal.close()
  })

  it('hands out payload views that stay valid after later chunks are read', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 2048, readChunkBytes: 64 })
    await wal.appendBatch(Array.from({ length: 200 }, (_, i) => payloadFor(i + 1)))
    const views: Uint8Array[] = []
    for await (const batch of wal.readBatches(1)) for (const record of batch) views.push(record.payload)
    expect(views).toHaveLength(200)
    for (const [i, view] of views.entries()) expect(view).toEqual(payloadFor(i + 1))
    await wal.close()
  })

  it('recycles read memory with reuseBuffers, each batch intact while it is current', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 4096, readChunkBytes: 100 })
    await wal.appendBatch(Array.from({ length: 300 }, (_, i) => payloadFor(i + 1)))
    await wal.close()
    for (const verify of ['full', 'tail'] as const) {
      const reopened = await Wal.open(dir, { segmentBytes: 4096, readChunkBytes: 100, verify })
      let next = 1
      for await (const batch of reopened.readBatches(1, undefined, { reuseBuffers: true })) {
        for (const record of batch) {
          expect(record.index).toBe(next)
          expect(record.payload).toEqual(payloadFor(next))
          next++
        }
      }
      expect(next).toBe(301)
      await reopened.close()
    }
  })

  it('rolls over into many segments and compacts whole segments before an index', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 512 })
    for (let i = 1; i <= 400; i++) await wal.append(payloadFor(i))
    const segments = wal.segmentNames
    expect(segments.length).toBeGreaterThan(10)
    expect((await readdir(dir)).filter((n) => n.endsWith('.wal')).sort()).toEqual(segments)
    await wal.compactBefore(200)
    expect(wal.firstIndex).toBeLessThanOrEqual(200)
    expect(wal.firstIndex).toBeGreaterThan(150)
    expect(wal.segmentNames.length).toBeLessThan(segments.length)
    expect(() => wal.read(1)).toThrow(WalIndexError)
    const first = wal.firstIndex
    await wal.close()
    const reopened = await Wal.open(dir, { segmentBytes: 512 })
    expect(reopened.firstIndex).toBe(first)
    const records = await readAll(reopened)
    expect(records.map((r) => r.index)).toEqual(Array.from({ length: 401 - first }, (_, i) => first + i))
    for (const record of records) expect(record.payload).toEqual(payloadFor(record.index))
    await reopened.close()
  })

  it('truncates a suffix across segments and continues appending after it', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 512 })
    for (let i = 1; i <= 200; i++) await wal.append(payloadFor(i))
    await wal.truncateAfter(57)
    expect(wal.lastIndex).toBe(57)
    expect(await wal.append(payloadFor(1000))).toBe(58)
    await wal.close()
    const reopened = await Wal.open(dir, { segmentBytes: 512 })
    const records = await readAll(reopened)
    expect(records.map((r) => r.index)).toEqual(Array.from({ length: 58 }, (_, i) => i + 1))
    expect(records[57]!.payload).toEqual(payloadFor(1000))
    await reopened.truncateAfter(0)
    expect(reopened.lastIndex).toBe(0)
    expect(await readAll(reopened)).toEqual([])
    await reopened.close()
  })

  it('writes through O_DSYNC with syncMethod dsync', async () => {
    const wal = await Wal.open(dir, { syncMethod: 'dsync', segmentBytes: 1024 })
    const indexes = await Promise.all(Array.from({ length: 64 }, (_, i) => wal.append(payloadFor(i + 1))))
    expect(indexes.at(-1)).toBe(64)
    await wal.close()
    const reopened = await Wal.open(dir, { syncMethod: 'dsync', segmentBytes: 1024 })
    expect((await readAll(reopened)).map((r) => r.index)).toEqual(indexes)
    await reopened.close()
  })

  it('rolls into zero-filled segments prepared ahead, and removes the unused spare on close', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 4096, preallocate: true })
    for (let i = 1; i <= 400; i++) await wal.append(payloadFor(i))
    const names = wal.segmentNames
    expect(names.length).toBeGreaterThan(3)
    for (const name of names) expect((await stat(path.join(dir, name))).size).toBe(4096)
    await wal.close()
    expect((await readdir(dir)).sort()).toEqual(names)
    const reopened = await Wal.open(dir, { segmentBytes: 4096, preallocate: true })
    expect(reopened.recovery.tornTail).toBeUndefined()
    const records = await readAll(reopened)
    expect(records.map((r) => r.index)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1))
    for (const record of records) expect(record.payload).toEqual(payloadFor(record.index))
    await reopened.close()
  })

  it('keeps data with preallocated segments', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 4096, preallocate: true })
    for (let i = 1; i <= 100; i++) await wal.append(payloadFor(i))
    await wal.truncateAfter(90)
    await wal.append(payloadFor(91))
    await wal.close()
    const reopened = await Wal.open(dir, { segmentBytes: 4096, preallocate: true })
    expect(reopened.lastIndex).toBe(91)
    expect(reopened.recovery.tornTail).toBeUndefined()
    expect((await readAll(reopened)).map((r) => r.index)).toHaveLength(91)
    await reopened.close()
  })
})

describe('group commit', () => {
  it('coalesces appends made while a sync is in flight into one write and one sync', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs })
    let syncs = 0
    fs.onOperation = (operation) => {
      if (operation === 'sync') syncs++
    }
    const indexes = await Promise.all(Array.from({ length: 256 }, (_, i) => wal.append(payloadFor(i + 1))))
    expect(indexes).toEqual(Array.from({ length: 256 }, (_, i) => i + 1))
    expect(syncs).toBeLessThanOrEqual(2)
    await wal.close()
  })

  it('queues appends made while a sync is in flight into exactly one next write and sync', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs })
    const operations: string[] = []
    const late: Array<Promise<number>> = []
    fs.onOperation = (operation) => {
      operations.push(operation)
      // While the first sync is in flight, 100 more appends arrive.
      if (operation === 'sync' && late.length === 0) {
        for (let i = 0; i < 100; i++) late.push(wal.append(payloadFor(i + 2)))
      }
    }
    const first = await wal.append(payloadFor(1))
    expect(first).toBe(1)
    expect(await Promise.all(late)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2))
    expect(operations).toEqual(['write', 'sync', 'write', 'sync'])
    await wal.close()
  })

  it('resolves every append only after the sync that covers it', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs, segmentBytes: 512 })
    // At the moment each append resolves, take what a crash would keep for sure.
    const images: Array<{ index: number; image: SimFileSystem }> = []
    const writers = Array.from({ length: 8 }, async (_, writer) => {
      for (let i = 0; i < 10; i++) {
        const index = await wal.append(payloadFor(writer * 100 + i))
        images.push({ index, image: fs.durableImage() })
      }
    })
    await Promise.all(writers)
    for (const { index, image } of images) {
      const durable = await Wal.open('/wal', { fs: image, segmentBytes: 512 })
      expect(durable.lastIndex).toBeGreaterThanOrEqual(index)
      await durable.close()
    }
    await wal.close()
  })
})

describe('reads during appends', () => {
  it('see a consistent prefix up to the lastIndex of the moment they start', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 600, readChunkBytes: 64 })
    const written = new Map<number, Uint8Array>()
    let done = false
    const writers = Array.from({ length: 16 }, async (_, writer) => {
      for (let i = 0; i < 25; i++) {
        const payload = payloadFor(writer * 1000 + i)
        written.set(await wal.append(payload), payload)
      }
    })
    const finished = Promise.all(writers).then(() => {
      done = true
    })
    let reads = 0
    while (!done) {
      const last = wal.lastIndex
      const records = await readAll(wal, 1)
      expect(records.length).toBeGreaterThanOrEqual(last)
      for (const [i, record] of records.entries()) {
        expect(record.index).toBe(i + 1)
        expect(record.payload).toEqual(written.get(record.index))
      }
      reads++
      // A read of nothing completes in microtasks alone; let I/O callbacks run.
      await new Promise((resolve) => setImmediate(resolve))
    }
    await finished
    expect(reads).toBeGreaterThan(1)
    expect(wal.segmentNames.length).toBeGreaterThan(2)
    await wal.close()
  })
})

describe('bad calls throw typed errors and change nothing', () => {
  it('rejects oversized payloads, non-bytes, out-of-range truncation and compaction, and calls after close', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs, maxPayloadBytes: 100 })
    await wal.appendBatch([payloadFor(1), payloadFor(2), payloadFor(3)])
    await expect(wal.append(new Uint8Array(101))).rejects.toBeInstanceOf(WalPayloadTooLargeError)
    await expect(wal.appendBatch([payloadFor(4), new Uint8Array(101)])).rejects.toBeInstanceOf(
      WalPayloadTooLargeError,
    )
    await expect(wal.append('text' as unknown as Uint8Array)).rejects.toBeInstanceOf(WalArgumentError)
    await expect(wal.truncateAfter(4)).rejects.toBeInstanceOf(WalIndexError)
    await expect(wal.truncateAfter(-1)).rejects.toBeInstanceOf(WalIndexError)
    await expect(wal.compactBefore(5)).rejects.toBeInstanceOf(WalIndexError)
    expect(wal.lastIndex).toBe(3)
    expect((await readAll(wal)).map((r) => r.index)).toEqual([1, 2, 3])
    await wal.close()
    await expect(wal.append(payloadFor(4))).rejects.toBeInstanceOf(WalClosedError)
    await expect(wal.truncateAfter(1)).rejects.toBeInstanceOf(WalClosedError)
    expect(() => wal.read(1)).toThrow(WalClosedError)
    const reopened = await Wal.open('/wal', { fs })
    expect((await readAll(reopened)).map((r) => r.index)).toEqual([1, 2, 3])
    await reopened.close()
  })

  it('rejects invalid options with WalConfigError', async () => {
    await expect(Wal.open(dir, { segmentBytes: 3 })).rejects.toBeInstanceOf(WalConfigError)
    await expect(Wal.open(dir, { maxPayloadBytes: -1 })).rejects.toBeInstanceOf(WalConfigError)
  })
})

describe('calls made while a truncation or compaction waits run in call order', () => {
  it('an append queued behind one truncation runs before a truncation called after it', async () => {
    const wal = await Wal.open('/wal', { fs: new SimFileSystem() })
    await wal.appendBatch(Array.from({ length: 10 }, (_, i) => payloadFor(i + 1)))
    const first = wal.truncateAfter(8)
    const appended = wal.append(payloadFor(100))
    const batch = wal.appendBatch([payloadFor(101), payloadFor(102)])
    const second = wal.truncateAfter(9)
    const after = wal.append(payloadFor(103))
    await Promise.all([first, second])
    // 9 and 10 went with the first truncation; the append took 9, the batch 10..11, which the
    // second truncation dropped; the last append then took 10.
    expect(await appended).toBe(9)
    expect(await batch).toBe(11)
    expect(await after).toBe(10)
    const records = await readAll(wal)
    expect(records.map((r) => r.index)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    expect(records[8]!.payload).toEqual(payloadFor(100))
    expect(records[9]!.payload).toEqual(payloadFor(103))
    await wal.close()
  })

  it('keeps call order across compactions and truncations queued together', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs, segmentBytes: 256 })
    for (let i = 1; i <= 40; i++) await wal.append(payloadFor(i))
    const calls: Array<Promise<unknown>> = []
    const indexes: Array<Promise<number>> = []
    calls.push(wal.compactBefore(20))
    for (let i = 0; i < 5; i++) indexes.push(wal.append(payloadFor(41 + i)))
    calls.push(wal.truncateAfter(42))
    for (let i = 0; i < 5; i++) indexes.push(wal.append(payloadFor(1000 + i)))
    calls.push(wal.compactBefore(30))
    await Promise.all(calls)
    expect(await Promise.all(indexes)).toEqual([41, 42, 43, 44, 45, 43, 44, 45, 46, 47])
    const records = await readAll(wal)
    expect(records.at(-1)!.index).toBe(47)
    expect(records.find((r) => r.index === 42)!.payload).toEqual(payloadFor(42))
    expect(records.find((r) => r.index === 43)!.payload).toEqual(payloadFor(1000))
    await wal.close()
  })
})

describe('compaction beside appends', () => {
  it('appends go on and sync while a compaction removes segments; a truncation called meanwhile waits for it', async () => {
    const sim = new SimFileSystem()
    // The first directory sync after `hold` is armed waits until it is released: a compaction
    // stuck in the middle of removing segments (a slow disk).
    let hold = false
    let held: (() => void) | undefined
    let reached: () => void = () => undefined
    const removing = new Promise<void>((resolve) => {
      reached = resolve
    })
    const fs = {
      ...slowSyncs(sim, async () => undefined).fs,
      async syncDir(dir: string) {
        if (hold) {
          hold = false
          reached()
          await new Promise<void>((resolve) => {
            held = resolve
          })
        }
        await sim.syncDir(dir)
      },
    }
    const wal = await Wal.open('/wal', { fs, segmentBytes: 256 })
    for (let i = 1; i <= 40; i++) await wal.append(payloadFor(i))
    expect(wal.segmentNames.length).toBeGreaterThan(3)
    hold = true
    let compacted = false
    const compaction = wal.compactBefore(30).then(() => {
      compacted = true
    })
    await removing
    // Records and batches become durable while the compaction is stuck.
    const appended = await Promise.race([
      (async () => {
        expect(await wal.append(payloadFor(41))).toBe(41)
        expect(await wal.appendBatch([payloadFor(42), payloadFor(43)])).toBe(43)
        return 'appended'
      })(),
      sleep(5_000).then(() => 'appends waited for the compaction'),
    ])
    expect(appended).toBe('appended')
    expect(compacted).toBe(false)
    let truncated = false
    const truncation = wal.truncateAfter(42).then(() => {
      truncated = true
    })
    await sleep(20)
    expect(truncated).toBe(false)
    held?.()
    await Promise.all([compaction, truncation])
    expect(wal.firstIndex).toBeGreaterThan(1)
    expect(wal.firstIndex).toBeLessThanOrEqual(30)
    expect(wal.lastIndex).toBe(42)
    await wal.close()
    const reopened = await Wal.open('/wal', { fs: sim.durableImage() })
    const records = await readAll(reopened)
    expect(records.map((r) => r.index)).toEqual(
      Array.from({ length: 43 - reopened.firstIndex }, (_, i) => reopened.firstIndex + i),
    )
    for (const record of records) expect(record.payload).toEqual(payloadFor(record.index))
    await reopened.close()
  })
})

describe('pipelined writes (pipelineBytes)', () => {
  it('overlaps at most two syncs, and resolves appends in index order even when a later sync ends first', async () => {
    // Every other sync is slow, so the second of two overlapping syncs often ends first.
    const sim = new SimFileSystem()
    const { fs, stats } = slowSyncs(sim, (serial) => sleep(serial % 2 === 0 ? 8 : 1))
    const wal = await Wal.open('/wal', { fs, pipelineBytes: 200 })
    const resolved: number[] = []
    await Promise.all(
      Array.from({ length: 32 }, async (_, writer) => {
        for (let i = 0; i < 8; i++) resolved.push(await wal.append(payloadFor(writer * 8 + i)))
      }),
    )
    expect(stats.maxInFlight).toBe(2)
    expect(resolved.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 256 }, (_, i) => i + 1))
    // A caller learns its index only once every earlier record is durable too: the resolutions
    // come in index order across writes.
    for (let i = 1; i < resolved.length; i++) {
      if (resolved[i]! < resolved[i - 1]!) {
        // Within one write the callers resolve together, in order; across writes never backwards.
        expect.fail(`index ${resolved[i]} resolved after ${resolved[i - 1]}`)
      }
    }
    expect(wal.lastIndex).toBe(256)
    await wal.close()
    const reopened = await Wal.open('/wal', { fs: sim.durableImage() })
    expect((await readAll(reopened)).map((r) => r.index)).toEqual(
      Array.from({ length: 256 }, (_, i) => i + 1),
    )
    await reopened.close()
  })

  it('keeps one write+fdatasync at a time with pipelineBytes Infinity', async () => {
    const { fs, stats } = slowSyncs(new SimFileSystem(), () => sleep(2))
    const wal = await Wal.open('/wal', { fs, pipelineBytes: Number.POSITIVE_INFINITY })
    await Promise.all(Array.from({ length: 64 }, (_, i) => wal.append(payloadFor(i, 500))))
    await Promise.all(Array.from({ length: 64 }, (_, i) => wal.append(payloadFor(i, 500))))
    expect(stats.maxInFlight).toBe(1)
    await wal.close()
  })

  it('rejects a bad pipelineBytes', async () => {
    await expect(Wal.open(dir, { pipelineBytes: 0 })).rejects.toBeInstanceOf(WalConfigError)
    await expect(Wal.open(dir, { pipelineBytes: 1.5 })).rejects.toBeInstanceOf(WalConfigError)
  })
})

describe('segment recycling', () => {
  it('reuses compacted segment files for later segments, and never reads their old records', async () => {
    const fs = new SimFileSystem()
    const options = { fs, segmentBytes: 512, recycleSegments: 2 }
    const wal = await Wal.open('/wal', options)
    // Large records first, so that the reused files hold old frames well past where the small ones end.
    for (let i = 1; i <= 30; i++) await wal.append(payloadFor(i, 120))
    const before = wal.segmentNames
    await wal.compactBefore(wal.lastIndex)
    const kept = (await fs.list('/wal')).filter((name) => name.startsWith('recycled-'))
    expect(kept).toHaveLength(2)
    for (let i = 31; i <= 60; i++) await wal.append(payloadFor(i, 10))
    // The next rollovers took the kept files.
    expect((await fs.list('/wal')).filter((name) => name.startsWith('recycled-'))).toHaveLength(0)
    const reused = wal.segmentNames.filter((name) => !before.includes(name))
    expect(reused.length).toBeGreaterThanOrEqual(2)
    const records = await readAll(wal)
    const first = wal.firstIndex
    expect(first).toBeLessThanOrEqual(30)
    expect(records.map((r) => r.index)).toEqual(Array.from({ length: 61 - first }, (_, i) => first + i))
    for (const record of records)
      expect(record.payload).toEqual(payloadFor(record.index, record.index > 30 ? 10 : 120))
    // A crash now (no close): the reused files still hold old records after the end marker.
    const image = fs.durableImage()
    await wal.close()
    const crashed = await Wal.open('/wal', { ...options, fs: image })
    expect(crashed.lastIndex).toBe(60)
    expect((await readAll(crashed)).map((r) => r.index)).toEqual(records.map((r) => r.index))
    expect(await crashed.append(payloadFor(61))).toBe(61)
    await crashed.close()
    const clean = await Wal.open('/wal', { ...options, fs: image })
    expect(clean.recovery.tornTail).toBeUndefined()
    expect(clean.lastIndex).toBe(61)
    await clean.close()
  })

  it('deletes compacted segments with recycleSegments 0, and kept files on close', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 512, recycleSegments: 0 })
    for (let i = 1; i <= 60; i++) await wal.append(payloadFor(i))
    await wal.compactBefore(wal.lastIndex)
    expect(await readdir(dir)).toEqual(wal.segmentNames)
    await wal.close()
    const recycling = await Wal.open(dir, { segmentBytes: 512 })
    for (let i = 61; i <= 120; i++) await recycling.append(payloadFor(i))
    await recycling.compactBefore(recycling.lastIndex)
    expect((await readdir(dir)).some((name) => name.startsWith('recycled-'))).toBe(true)
    const names = recycling.segmentNames
    await recycling.close()
    expect((await readdir(dir)).sort()).toEqual(names)
  })

  it('rejects a bad recycleSegments', async () => {
    await expect(Wal.open(dir, { recycleSegments: -1 })).rejects.toBeInstanceOf(WalConfigError)
  })
})
