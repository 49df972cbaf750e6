import { SimFileSystem, type SimOperation } from '@shoal/testkit/fs'
import { describe, expect, it } from 'vitest'
import { Wal, WalFailedError } from '../src/index.ts'
import { payloadFor, readAll, sleep, slowSyncs } from './helpers.ts'

/** Appends from several concurrent writers until the WAL fails; returns what was acknowledged and rejected. */
async function appendUntilFailure(wal: Wal) {
  const acked: number[] = []
  const rejected: unknown[] = []
  const writer = async () => {
    for (let i = 0; i < 40; i++) {
      try {
        acked.push(await wal.append(payloadFor(i)))
      } catch (error) {
        rejected.push(error)
        return
      }
    }
  }
  await Promise.all(Array.from({ length: 8 }, writer))
  return { acked, rejected }
}

describe('fault injection', () => {
  for (const [operation, code, pipelineBytes] of [
    ['sync', 'EIO', undefined],
    ['write', 'ENOSPC', undefined],
    ['write', 'EIO', undefined],
    ['create', 'ENOSPC', undefined],
    // Two writes in flight: the failure of the first also fails the second.
    ['sync', 'EIO', 40],
    ['write', 'EIO', 40],
  ] as Array<[SimOperation, string, number | undefined]>) {
    const pipelined = pipelineBytes === undefined ? '' : ', pipelined'
    it(`a failed ${operation} (${code}${pipelined}) stops the WAL with WalFailedError and acknowledges nothing it covered`, async () => {
      const fs = new SimFileSystem()
      const wal = await Wal.open('/wal', {
        fs,
        segmentBytes: 2048,
        ...(pipelineBytes === undefined ? {} : { pipelineBytes }),
      })
      await wal.append(payloadFor(0))
      const log: string[] = []
      fs.onOperation = (op, path) => log.push(`${op} ${path}`)
      fs.fail({ operation, code, after: 3 })
      const { acked, rejected } = await appendUntilFailure(wal)
      expect(rejected.length).toBe(8)
      for (const error of rejected) {
        expect(error).toBeInstanceOf(WalFailedError)
        expect((error as WalFailedError).cause).toMatchObject({ code })
      }
      // No retry: after the failure the WAL touches the disk no more.
      const operationsAtFailure = fs.operations
      fs.clearFaults()
      await expect(wal.append(payloadFor(1))).rejects.toBeInstanceOf(WalFailedError)
      await expect(wal.appendBatch([payloadFor(1)])).rejects.toBeInstanceOf(WalFailedError)
      await expect(wal.truncateAfter(1)).rejects.toBeInstanceOf(WalFailedError)
      await expect(wal.compactBefore(1)).rejects.toBeInstanceOf(WalFailedError)
      expect(fs.operations).toBe(operationsAtFailure)
      // Acknowledged means durable: every acknowledged record survives a crash now.
      const lastAcked = Math.max(1, ...acked)
      expect(wal.lastIndex).toBe(lastAcked)
      const after = await Wal.open('/wal', { fs: fs.durableImage(), segmentBytes: 2048 })
      expect(after.lastIndex).toBeGreaterThanOrEqual(lastAcked)
      expect((await readAll(after)).length).toBe(after.lastIndex)
      await after.close()
      await wal.close()
    })
  }

  it('does not issue the next pipelined write once the write before it failed', async () => {
    const sim = new SimFileSystem()
    const { fs, stats } = slowSyncs(sim, () => sleep(1))
    const wal = await Wal.open('/wal', { fs, pipelineBytes: 40 })
    await wal.append(payloadFor(0))
    const writesBefore = stats.writes
    sim.fail({ operation: 'write', code: 'EIO' })
    // Two writes issued in one turn: the second waits for the first, which fails.
    const results = await Promise.allSettled([wal.append(payloadFor(1, 100)), wal.append(payloadFor(2, 100))])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(stats.writes - writesBefore).toBe(1)
    expect(wal.lastIndex).toBe(1)
    await wal.close()
  })

  it('stops on a failed O_DSYNC write (syncMethod dsync) and acknowledges nothing it covered', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs, syncMethod: 'dsync' })
    await wal.append(payloadFor(0))
    fs.fail({ operation: 'sync', code: 'EIO', after: 2 })
    const { acked, rejected } = await appendUntilFailure(wal)
    expect(rejected.length).toBe(8)
    for (const error of rejected) expect(error).toBeInstanceOf(WalFailedError)
    expect(wal.lastIndex).toBe(Math.max(1, ...acked))
    const after = await Wal.open('/wal', { fs: fs.durableImage() })
    expect(after.lastIndex).toBe(wal.lastIndex)
    await after.close()
    await wal.close()
  })

  it('never acknowledges a record whose sync failed, even if its bytes reached the file', async () => {
    const fs = new SimFileSystem()
    const wal = await Wal.open('/wal', { fs })
    await wal.append(payloadFor(1))
    fs.fail({ operation: 'sync', code: 'EIO' })
    const outcome = await wal.append(payloadFor(2)).then(
      (index) => ({ index }),
      (error: unknown) => ({ error }),
    )
    expect(outcome).toMatchObject({ error: expect.any(WalFailedError) })
    expect(wal.lastIndex).toBe(1)
    await wal.close()
  })
})
