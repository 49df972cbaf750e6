import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TaskLog, TaskLogCorruptionError } from '../src/index.ts'
import { tempDir } from './harness/server-process.ts'

describe('task log', () => {
  let dir: string
  let remove: () => Promise<void>
  beforeEach(async () => {
    ;({ dir, remove } = await tempDir('shoal-tasklog-'))
  })
  afterEach(async () => {
    await remove()
  })

  async function segment(): Promise<string> {
    const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort()
    return path.join(dir, names[names.length - 1]!)
  }

  it('returns every appended record, in order, after reopening', async () => {
    const { log } = await TaskLog.open<{ uid: number }>(dir)
    await Promise.all([
      log.append([{ uid: 0 }]),
      log.append([{ uid: 1 }, { uid: 2 }]),
      log.append([{ uid: 3 }]),
    ])
    await log.close()
    const reopened = await TaskLog.open<{ uid: number }>(dir)
    expect(reopened.records.map((r) => r.uid)).toEqual([0, 1, 2, 3])
    expect(reopened.recovery.tornTail).toBeUndefined()
    await reopened.log.close()
  })

  it('drops a torn tail (a record cut short by a crash) and keeps appending after it', async () => {
    const { log } = await TaskLog.open<{ uid: number }>(dir)
    await log.append([{ uid: 0 }])
    await log.append([{ uid: 1 }])
    await log.close()
    const file = await segment()
    // The end marker (16 zero bytes) after the last record, and 3 bytes of that record.
    await truncate(file, (await stat(file)).size - 16 - 3)
    const reopened = await TaskLog.open<{ uid: number }>(dir)
    expect(reopened.records.map((r) => r.uid)).toEqual([0])
    expect(reopened.recovery.tornTail).toBeDefined()
    await reopened.log.append([{ uid: 2 }])
    await reopened.log.close()
    const again = await TaskLog.open<{ uid: number }>(dir)
    expect(again.records.map((r) => r.uid)).toEqual([0, 2])
    await again.log.close()
  })

  it('refuses to open a log whose earlier record fails its checksum', async () => {
    const { log } = await TaskLog.open<{ name: string }>(dir)
    await log.append([{ name: 'first-record' }])
    await log.append([{ name: 'second-record' }])
    await log.close()
    const file = await segment()
    const bytes = await readFile(file)
    bytes[bytes.indexOf('first-record')] = 'F'.charCodeAt(0)
    await writeFile(file, bytes)
    await expect(TaskLog.open(dir)).rejects.toBeInstanceOf(TaskLogCorruptionError)
  })

  it('compaction keeps the latest snapshots', async () => {
    const { log } = await TaskLog.open<{ uid: number; status: string }>(dir)
    await log.append([
      { uid: 0, status: 'enqueued' },
      { uid: 0, status: 'succeeded' },
    ])
    await log.compact([{ uid: 0, status: 'succeeded' }])
    await log.close()
    const reopened = await TaskLog.open<{ uid: number; status: string }>(dir)
    expect(reopened.records[reopened.records.length - 1]).toEqual({ uid: 0, status: 'succeeded' })
    await reopened.log.close()
  })
})
