import path from 'node:path'
import { open } from '@shoal/engine'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TaskQueue } from '../src/index.ts'
import { parseTaskQuery } from '../src/internal/task-filter.ts'
import type { EnqueueRequest } from '../src/internal/task-queue.ts'
import { tempDir } from './harness/server-process.ts'

// The task queue driving the real engine (no HTTP): order, batching of
// consecutive document additions, and a bad task failing alone.

type Engine = Awaited<ReturnType<typeof open>>

function addition(
  indexUid: string,
  docs: object[],
  method: 'replace' | 'update' = 'replace',
): EnqueueRequest {
  return {
    type: 'documentAdditionOrUpdate',
    indexUid,
    operation: {
      kind: 'addDocuments',
      method,
      payloadFile: '',
      documentCount: docs.length,
      primaryKey: 'id',
    },
    details: { receivedDocuments: docs.length, indexedDocuments: null },
    documentsJson: JSON.stringify(docs),
  }
}

describe('task queue with the engine', () => {
  let dir: string
  let remove: () => Promise<void>
  let engine: Engine
  let queue: TaskQueue

  beforeEach(async () => {
    ;({ dir, remove } = await tempDir('shoal-queue-'))
    engine = await open(path.join(dir, 'engine'), { sync: 'none' })
    queue = await TaskQueue.open(path.join(dir, 'tasks'), engine, { sync: false })
  })
  afterEach(async () => {
    await queue.close()
    await engine.close()
    await remove()
  })

  it('runs consecutive additions to one index as one batch, and keeps other indexes and methods apart', async () => {
    const uids = [
      (await queue.enqueue(addition('a', [{ id: 1, v: 'a1' }]))).taskUid,
      (await queue.enqueue(addition('b', [{ id: 1, v: 'b1' }]))).taskUid,
      (await queue.enqueue(addition('a', [{ id: 2, v: 'a2' }]))).taskUid,
      (await queue.enqueue(addition('a', [{ id: 1, v: 'a1-again' }]))).taskUid,
      (await queue.enqueue(addition('a', [{ id: 2, extra: true }], 'update'))).taskUid,
    ]
    queue.start()
    await queue.waitIdle()
    const tasks = uids.map((uid) => queue.get(uid)!)
    expect(tasks.map((t) => t.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
    ])
    const [a1, b1, a2, a3, a4] = tasks
    expect(a2!.batchUid).toBe(a1!.batchUid)
    expect(a3!.batchUid).toBe(a1!.batchUid)
    expect(b1!.batchUid).not.toBe(a1!.batchUid)
    expect(a4!.batchUid).not.toBe(a1!.batchUid)
    // Later writes win within the batch; the update merged into the replaced document.
    expect(engine.index('a').getDocument(1)).toEqual({ id: 1, v: 'a1-again' })
    expect(engine.index('a').getDocument(2)).toEqual({ id: 2, v: 'a2', extra: true })
    expect(engine.index('b').getDocument(1)).toEqual({ id: 1, v: 'b1' })
  })

  it('fails only the bad task of a batch that the engine refuses', async () => {
    const good1 = await queue.enqueue(addition('a', [{ id: 1 }]))
    const bad = await queue.enqueue(addition('a', [{ id: 2 }, { title: 'no id' }]))
    const good2 = await queue.enqueue(addition('a', [{ id: 3 }]))
    queue.start()
    await queue.waitIdle()
    expect(queue.get(good1.taskUid)?.status).toBe('succeeded')
    expect(queue.get(good2.taskUid)?.status).toBe('succeeded')
    const failed = queue.get(bad.taskUid)
    expect(failed?.status).toBe('failed')
    expect(failed?.error?.code).toBe('missing_document_id')
    expect(engine.stats().indexes.a?.numberOfDocuments).toBe(2)
  })

  it('keeps tasks and their statuses across a reopen, and runs what was still enqueued', async () => {
    const done = await queue.enqueue({
      type: 'indexCreation',
      indexUid: 'x',
      operation: { kind: 'createIndex' },
    })
    queue.start()
    await queue.waitIdle()
    await queue.close()
    const reopenedEngine = engine
    const stopped = await TaskQueue.open(path.join(dir, 'tasks'), reopenedEngine, { sync: false })
    const pending = await stopped.enqueue(addition('x', [{ id: 7 }]))
    await stopped.close()
    queue = await TaskQueue.open(path.join(dir, 'tasks'), reopenedEngine, { sync: false })
    expect(queue.get(done.taskUid)?.status).toBe('succeeded')
    expect(queue.get(pending.taskUid)?.status).toBe('enqueued')
    queue.start()
    await queue.waitIdle()
    expect(queue.get(pending.taskUid)?.status).toBe('succeeded')
    expect(engine.index('x').getDocument(7)).toEqual({ id: 7 })
    expect(queue.list({ limit: 1 }).results[0]?.uid).toBe(pending.taskUid)
  })

  it('cancels enqueued tasks before they run and deletes finished ones for good', async () => {
    const keep = await queue.enqueue(addition('a', [{ id: 1 }]))
    const drop = await queue.enqueue(addition('b', [{ id: 2 }]))
    const cancel = await queue.control('cancel', { indexUids: ['b'] }, '?indexUids=b')
    expect(queue.get(cancel.taskUid)?.details).toMatchObject({ matchedTasks: 1, canceledTasks: 1 })
    queue.start()
    await queue.waitIdle()
    expect(queue.get(keep.taskUid)?.status).toBe('succeeded')
    expect(queue.get(drop.taskUid)).toMatchObject({ status: 'canceled', canceledBy: cancel.taskUid })
    expect(engine.hasIndex('b')).toBe(false)
    const deletion = await queue.control(
      'delete',
      { statuses: ['succeeded', 'canceled'] },
      '?statuses=succeeded,canceled',
    )
    expect(queue.get(deletion.taskUid)?.details).toMatchObject({ deletedTasks: 3 })
    expect(queue.get(keep.taskUid)).toBeUndefined()
    await queue.close()
    queue = await TaskQueue.open(path.join(dir, 'tasks'), engine, { sync: false })
    expect(queue.get(keep.taskUid)).toBeUndefined()
    expect(queue.list({ limit: 10 }).results.map((t) => t.uid)).toEqual([deletion.taskUid])
    const next = await queue.enqueue(addition('a', [{ id: 3 }]))
    expect(next.taskUid).toBe(deletion.taskUid + 1)
  })

  // Regression: cancelation dropped the date filters and canceled queued writes outside the range.
  it('cancels only the enqueued tasks inside a date range, and canceledBy then finds them', async () => {
    const early = await queue.enqueue(addition('a', [{ id: 1 }]))
    await new Promise((resolve) => setTimeout(resolve, 15))
    const mid = new Date().toISOString()
    await new Promise((resolve) => setTimeout(resolve, 15))
    const late = await queue.enqueue(addition('a', [{ id: 2 }]))
    const query = { beforeEnqueuedAt: encodeURIComponent(mid) }
    const filter = parseTaskQuery({ beforeEnqueuedAt: mid }, 'control')
    const cancel = await queue.control('cancel', filter, `?beforeEnqueuedAt=${query.beforeEnqueuedAt}`)
    expect(queue.get(cancel.taskUid)?.details).toEqual({
      matchedTasks: 1,
      canceledTasks: 1,
      originalFilter: `?beforeEnqueuedAt=${query.beforeEnqueuedAt}`,
    })
    const byCanceler = queue.list(parseTaskQuery({ canceledBy: String(cancel.taskUid) }, 'list'))
    expect(byCanceler.results.map((t) => t.uid)).toEqual([early.taskUid])
    queue.start()
    await queue.waitIdle()
    expect(queue.get(early.taskUid)?.status).toBe('canceled')
    expect(queue.get(late.taskUid)?.status).toBe('succeeded')
    expect(engine.index('a').getDocuments().results).toEqual([{ id: 2 }])
  })
})
