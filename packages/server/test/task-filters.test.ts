import { Meilisearch } from 'meilisearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessServer, type Json, startInProcess } from './harness/in-process.ts'

// The task filters of GET /tasks, POST /tasks/cancel and DELETE /tasks, as
// Meilisearch defines them (reference/api/tasks): every filter given narrows
// the selection, dates are exclusive bounds, `*` is "any".

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Six finished tasks, in batches 0..5, with `mid` between the fourth and the fifth:
 * 0 indexCreation a, 1 indexCreation b, 2 documentAdditionOrUpdate a,
 * 3 documentAdditionOrUpdate a (failed: no primary key), | mid |
 * 4 settingsUpdate b, 5 documentDeletion a.
 */
async function scenario(): Promise<{ node: InProcessServer; mid: string }> {
  const node = await startInProcess()
  await node.write('POST', '/indexes', { uid: 'a', primaryKey: 'id' })
  await node.write('POST', '/indexes', { uid: 'b', primaryKey: 'id' })
  await node.write('POST', '/indexes/a/documents', [{ id: 1 }, { id: 2 }])
  const bad = await node.call('POST', '/indexes/a/documents', [{ title: 'no id' }])
  expect((await node.waitTask(bad.body.taskUid)).status).toBe('failed')
  await sleep(15)
  const mid = new Date().toISOString()
  await sleep(15)
  await node.write('PATCH', '/indexes/b/settings', { filterableAttributes: ['x'] })
  await node.write('DELETE', '/indexes/a/documents/1')
  return { node, mid }
}

const uidsOf = (page: Json) => (page.results as { uid: number }[]).map((t) => t.uid).sort((x, y) => x - y)

interface Case {
  query: (mid: string) => string
  expected: number[]
}

const CASES: Record<string, Case> = {
  uids: { query: () => 'uids=1,3', expected: [1, 3] },
  batchUids: { query: () => 'batchUids=2,4', expected: [2, 4] },
  indexUids: { query: () => 'indexUids=b', expected: [1, 4] },
  statuses: { query: () => 'statuses=failed', expected: [3] },
  types: { query: () => 'types=indexCreation,settingsUpdate', expected: [0, 1, 4] },
  canceledBy: { query: () => 'canceledBy=0,1', expected: [] },
  beforeEnqueuedAt: { query: (mid) => `beforeEnqueuedAt=${encodeURIComponent(mid)}`, expected: [0, 1, 2, 3] },
  afterEnqueuedAt: { query: (mid) => `afterEnqueuedAt=${encodeURIComponent(mid)}`, expected: [4, 5] },
  beforeStartedAt: { query: (mid) => `beforeStartedAt=${encodeURIComponent(mid)}`, expected: [0, 1, 2, 3] },
  afterStartedAt: { query: (mid) => `afterStartedAt=${encodeURIComponent(mid)}`, expected: [4, 5] },
  beforeFinishedAt: { query: (mid) => `beforeFinishedAt=${encodeURIComponent(mid)}`, expected: [0, 1, 2, 3] },
  afterFinishedAt: { query: (mid) => `afterFinishedAt=${encodeURIComponent(mid)}`, expected: [4, 5] },
  'statuses and beforeEnqueuedAt together': {
    query: (mid) => `statuses=succeeded&beforeEnqueuedAt=${encodeURIComponent(mid)}`,
    expected: [0, 1, 2],
  },
  'a bare day as an after bound (the end of that day)': {
    query: () => 'afterEnqueuedAt=2000-01-01&beforeEnqueuedAt=2999-12-31',
    expected: [0, 1, 2, 3, 4, 5],
  },
  'a wildcard': { query: () => 'uids=*&statuses=*', expected: [0, 1, 2, 3, 4, 5] },
}

describe.each(Object.entries(CASES))('task filter %s', (_name, { query, expected }) => {
  let node: InProcessServer
  let mid: string
  beforeAll(async () => {
    ;({ node, mid } = await scenario())
  })
  afterAll(() => node.close())

  it('lists exactly the matching tasks, then cancels and deletes only those', async () => {
    const q = query(mid)
    const listed = await node.call('GET', `/tasks?${q}`)
    expect(listed.status).toBe(200)
    expect(uidsOf(listed.body)).toEqual(expected)
    expect(listed.body.total).toBe(expected.length)

    const cancel = await node.call('POST', `/tasks/cancel?${q}`)
    expect(cancel.status).toBe(202)
    const cancelTask = await node.waitTask(cancel.body.taskUid)
    expect(cancelTask.details).toEqual({
      matchedTasks: expected.length,
      canceledTasks: 0,
      originalFilter: `?${q}`,
    })

    // The cancelation task itself is new and may match an `after*` filter: delete what the list shows now.
    const before = uidsOf((await node.call('GET', '/tasks?limit=100')).body)
    const matching = uidsOf((await node.call('GET', `/tasks?${q}&limit=100`)).body)
    const deletion = await node.call('DELETE', `/tasks?${q}`)
    expect(deletion.status).toBe(202)
    const deletionTask = await node.waitTask(deletion.body.taskUid)
    expect(deletionTask.details).toEqual({
      matchedTasks: matching.length,
      deletedTasks: matching.length,
      originalFilter: `?${q}`,
    })
    const after = uidsOf((await node.call('GET', '/tasks?limit=100')).body)
    expect(after).toEqual([...before.filter((uid) => !matching.includes(uid)), deletion.body.taskUid])
  })
})

describe('the DELETE /tasks data-loss regression', () => {
  let node: InProcessServer
  let mid: string
  beforeAll(async () => {
    ;({ node, mid } = await scenario())
  })
  afterAll(() => node.close())

  it('deletes only the succeeded tasks enqueued before the date, through the official client', async () => {
    const client = new Meilisearch({ host: node.server.url, apiKey: 'in-process-master-key-0123456789' })
    const task = await client.tasks
      .deleteTasks({ statuses: ['succeeded'], beforeEnqueuedAt: mid })
      .waitTask({ interval: 5 })
    expect(task.details?.deletedTasks).toBe(3)
    const left = await client.tasks.getTasks({ limit: 100 })
    expect(left.results.map((t) => t.uid).sort((x, y) => x - y)).toEqual([3, 4, 5, task.uid])
  })
})

describe('GET /tasks paging', () => {
  let node: InProcessServer
  beforeAll(async () => {
    ;({ node } = await scenario())
  })
  afterAll(() => node.close())

  it('pages newest first with limit, from and next', async () => {
    const first = (await node.call('GET', '/tasks?limit=2')).body
    expect(first.results.map((t: Json) => t.uid)).toEqual([5, 4])
    expect({ limit: first.limit, from: first.from, next: first.next, total: first.total }).toEqual({
      limit: 2,
      from: 5,
      next: 3,
      total: 6,
    })
    const second = (await node.call('GET', `/tasks?limit=2&from=${first.next}`)).body
    expect(second.results.map((t: Json) => t.uid)).toEqual([3, 2])
  })

  it('pages oldest first with reverse=true', async () => {
    const page = (await node.call('GET', '/tasks?limit=4&reverse=true&from=1')).body
    expect(page.results.map((t: Json) => t.uid)).toEqual([1, 2, 3, 4])
    expect(page.next).toBe(5)
  })
})

describe('invalid task filters', () => {
  let node: InProcessServer
  beforeAll(async () => {
    ;({ node } = await scenario())
  })
  afterAll(() => node.close())

  const BAD: [string, string][] = [
    ['uids=one', 'invalid_task_uids'],
    ['uids=', 'invalid_task_uids'],
    ['uids=-1', 'invalid_task_uids'],
    ['batchUids=x', 'invalid_batch_uids'],
    ['canceledBy=1.5', 'invalid_task_canceled_by'],
    ['statuses=done', 'invalid_task_statuses'],
    ['statuses=', 'invalid_task_statuses'],
    ['types=indexRename', 'invalid_task_types'],
    ['indexUids=bad%20uid', 'invalid_index_uid'],
    ['beforeEnqueuedAt=yesterday', 'invalid_task_before_enqueued_at'],
    ['afterEnqueuedAt=2024-02-30', 'invalid_task_after_enqueued_at'],
    ['beforeStartedAt=2024-01-01T25:00:00Z', 'invalid_task_before_started_at'],
    ['afterStartedAt=1700000000', 'invalid_task_after_started_at'],
    ['beforeFinishedAt=2024-01-01T00:00:00', 'invalid_task_before_finished_at'],
    ['afterFinishedAt=', 'invalid_task_after_finished_at'],
    ['unknown=1', 'bad_request'],
    ['uids=1&uids=2', 'bad_request'],
  ]

  it.each(BAD)('GET, cancel and delete refuse %s with %s and change nothing', async (query, code) => {
    const before = (await node.call('GET', '/tasks?limit=100')).body
    for (const [method, path] of [
      ['GET', '/tasks'],
      ['POST', '/tasks/cancel'],
      ['DELETE', '/tasks'],
    ] as const) {
      const answer = await node.call(method, `${path}?${query}`)
      expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code })
    }
    expect((await node.call('GET', '/tasks?limit=100')).body).toEqual(before)
  })

  it.each([
    ['limit=-1', 'invalid_task_limit'],
    ['limit=ten', 'invalid_task_limit'],
    ['from=x', 'invalid_task_from'],
    ['reverse=yes', 'invalid_task_reverse'],
  ])('GET /tasks refuses %s with %s', async (query, code) => {
    const answer = await node.call('GET', `/tasks?${query}`)
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code })
  })

  it('cancel and delete refuse paging parameters as unknown', async () => {
    for (const [method, path] of [
      ['POST', '/tasks/cancel'],
      ['DELETE', '/tasks'],
    ] as const) {
      const answer = await node.call(method, `${path}?uids=1&limit=1`)
      expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code: 'bad_request' })
    }
  })

  it('cancel and delete without any filter answer missing_task_filters', async () => {
    for (const [method, path] of [
      ['POST', '/tasks/cancel'],
      ['DELETE', '/tasks'],
    ] as const) {
      const answer = await node.call(method, path)
      expect({ status: answer.status, code: answer.body.code }).toEqual({
        status: 400,
        code: 'missing_task_filters',
      })
    }
  })
})
