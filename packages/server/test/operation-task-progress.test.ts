import { describe, expect, it } from 'vitest'
import { describeProgress } from '../src/internal/cli-cluster.ts'
import { operationTaskProgress } from '../src/internal/operation-task-progress.ts'
import { type StoredTask, toPublicTask } from '../src/internal/task-types.ts'

// A cluster operation task's `progress`: Meilisearch's batch progress shape (steps from the
// outermost to the innermost, `finished` of `total`, and a percentage), from the task's details
// (docs/cluster-operations.md, "Operation tasks").

function task(
  operation: StoredTask['operation'],
  status: StoredTask['status'],
  details: Record<string, unknown> | null,
): StoredTask {
  return {
    uid: 7,
    batchUid: null,
    indexUid: null,
    status,
    type: operation.kind === 'clusterRebalance' ? 'clusterRebalance' : operation.kind,
    canceledBy: null,
    details,
    error: null,
    duration: null,
    enqueuedAt: '2026-12-07T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    operation,
  } as StoredTask
}

const drain = { kind: 'nodeDrain', nodeId: 'n1' } as const
const move = (progress: number) => ({ index: 'i', shard: 0, from: 'n1', to: 'n2', progress, bytes: 10 })

describe('operationTaskProgress', () => {
  it('a drain moving replicas: the outer step is the moves (1 of 2), nesting the moves and their catch-up', () => {
    const progress = operationTaskProgress(
      task(drain, 'processing', { movesPlanned: 4, movesDone: 1, inFlight: [move(0.5), move(1)] }),
    )
    expect(progress).toEqual({
      steps: [
        { currentStep: 'moving replicas', finished: 0, total: 2 },
        { currentStep: 'replica moves', finished: 1, total: 4 },
        { currentStep: 'new replicas catching up', finished: 75, total: 100 },
      ],
      // (1 done + 0.5 + 1 caught up) / 4 moves, half of the operation.
      percentage: 31.25,
    })
  })

  it('a drain whose moves are done waits in its second step, recording the node as left', () => {
    expect(
      operationTaskProgress(task(drain, 'processing', { movesPlanned: 3, movesDone: 3, inFlight: [] })),
    ).toEqual({
      steps: [{ currentStep: 'recording the node as left', finished: 1, total: 2 }],
      percentage: 50,
    })
  })

  it('a rebalance has one step; a plan that grew past its first count is never reported over 100 %', () => {
    const progress = operationTaskProgress(
      task({ kind: 'clusterRebalance' }, 'processing', {
        movesPlanned: 2,
        movesDone: 2,
        inFlight: [move(0)],
      }),
    )
    expect(progress?.steps[0]).toEqual({ currentStep: 'replica moves', finished: 2, total: 3 })
    expect(progress?.percentage).toBeCloseTo(66.67, 2)
    const replace = operationTaskProgress(
      task({ kind: 'nodeReplace', oldNodeId: 'a', newNodeId: 'b' }, 'processing', {
        movesPlanned: 1,
        movesDone: 1,
      }),
    )
    expect(replace?.steps[0]?.currentStep).toBe('dropping the old node from the shard map')
  })

  it('is null before the operation starts, once it ended, and for tasks that are not cluster operations', () => {
    expect(operationTaskProgress(task(drain, 'enqueued', null))).toBeNull()
    expect(operationTaskProgress(task(drain, 'succeeded', { movesPlanned: 1, movesDone: 1 }))).toBeNull()
    expect(operationTaskProgress(task({ kind: 'taskControl' }, 'processing', null))).toBeNull()
  })

  it('GET /tasks shows it on cluster operation tasks only, and the CLI prints its percentage', () => {
    const running = toPublicTask(task(drain, 'processing', { movesPlanned: 2, movesDone: 1, inFlight: [] }))
    expect(running.progress?.percentage).toBe(25)
    expect('operation' in running).toBe(false)
    expect('progress' in toPublicTask(task({ kind: 'taskControl' }, 'succeeded', null))).toBe(false)
    const line = describeProgress(
      'drain n1',
      running as Parameters<typeof describeProgress>[1],
      (id) => id ?? '-',
    )
    expect(line).toMatch(/^drain n1: task 7 processing: 1\/2 move\(s\) done, .*, 25% \(moving replicas\)$/)
  })
})
