import { waitFor } from '@shoal/testkit/wait'
import type { ClusterProcess } from './cluster-processes.ts'

/** A task as `GET /tasks/{uid}` shows it. */
export interface TaskView {
  uid: number
  status: string
  error: { code: string; message: string } | null
}

export const ENDED = ['succeeded', 'failed', 'canceled']

/** Waits until task `uid` has ended, asking each of `candidates` in turn (a node down is skipped). */
export async function waitTaskEnded(
  candidates: readonly ClusterProcess[],
  uid: number,
  options: { timeoutMs: number; intervalMs: number } = { timeoutMs: 60_000, intervalMs: 100 },
): Promise<TaskView> {
  let task: TaskView | undefined
  await waitFor(
    `task ${uid} ended`,
    async () => {
      for (const node of candidates) {
        try {
          const response = await node.request<TaskView>('GET', `/tasks/${uid}`)
          if (response.status === 200) {
            task = response.body
            break
          }
        } catch {
          // That node is down or stopped; ask the next.
        }
      }
      return task !== undefined && ENDED.includes(task.status)
    },
    options,
  )
  return task as TaskView
}
