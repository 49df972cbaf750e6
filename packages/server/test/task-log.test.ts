import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TaskLog, TaskLogCorruptionError } from '../src/index.ts'

describe('task log', () => {
  let dir: string
  let file: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoal-tasklog-'))
    file = path.join(dir, 'tasks.log')
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('returns every appended record, in order, after reopening', async () => {
    const { log } = await TaskLog.open<{ uid: number }>(file)
    await Promise.all([
      log.append([{ uid: 0 }]),
      log.append([{ uid: 1 }, { uid: 2 }]),
      log.append([{ uid: 3 }]),
    ])
    await log.close()
    const reopened = await TaskLog.open<{ uid: number }>(file)
    expect(reopened.records.map((r) => r.uid)).toEqual([0, 1, 2, 3])
    expect(reopened.droppedTailBytes).toBe(0)
    await reopened.log.close()
  })

  it('drops a torn tail (a record cut short by a crash) and keeps appending after it', async () => {
    const { log } = await TaskLog.open<{ uid: number }>(file)
    await log.append([{ uid: 0 }, { uid: 1 }])
    await log.close()
    const size = (await stat(file)).size
    const bytes = await readFile(file)
    await writeFile(file, bytes.subarray(0, size - 3))
    const reopened = await TaskLog.open<{ uid: number }>(file)
    expect(reopened.records.map((r) => r.uid)).toEqual([0])
    expect(reopened.droppedTailBytes).toBeGreaterThan(0)
    await reopened.log.append([{ uid: 2 }])
    await reopened.log.close()
    const again = await TaskLog.open<{ uid: number }>(file)
    expect(again.records.map((r) => r.uid)).toEqual([0, 2])
    await again.log.close()
  })

  it('refuses to open a log whose middle record fails its checksum', async () => {
    const { log } = await TaskLog.open<{ name: string }>(file)
    await log.append([{ name: 'first-record' }, { name: 'second-record' }])
    await log.close()
    const bytes = await readFile(file)
    const at = bytes.indexOf('first-record')
    bytes[at] = 'F'.charCodeAt(0)
    await writeFile(file, bytes)
    await expect(TaskLog.open(file)).rejects.toBeInstanceOf(TaskLogCorruptionError)
  })

  it('refuses a file that is not a task log', async () => {
    await writeFile(file, 'hello world')
    await expect(TaskLog.open(file)).rejects.toBeInstanceOf(TaskLogCorruptionError)
  })

  it('rewrite keeps only the given records', async () => {
    const { log } = await TaskLog.open<{ uid: number; status: string }>(file)
    await log.append([
      { uid: 0, status: 'enqueued' },
      { uid: 0, status: 'succeeded' },
    ])
    await log.close()
    await TaskLog.rewrite(file, [{ uid: 0, status: 'succeeded' }])
    const reopened = await TaskLog.open<{ uid: number; status: string }>(file)
    expect(reopened.records).toEqual([{ uid: 0, status: 'succeeded' }])
    await reopened.log.close()
  })
})
