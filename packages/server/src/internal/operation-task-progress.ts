import type { StoredTask } from './task-types.ts'

/**
 * The `progress` of a cluster operation task (`clusterRebalance`, `nodeDrain`, `nodeReplace`) in
 * the shape of Meilisearch's batch progress: `steps` from the outermost to the innermost, each
 * with `finished` of `total`, and `percentage` of the whole. Computed from the task's `details`,
 * which the metadata leader records about once a second (cluster/cluster-operations.ts), so
 * every node shows the same progress for the same details.
 */

export interface ProgressStep {
  readonly currentStep: string
  readonly finished: number
  readonly total: number
}

export interface TaskProgress {
  readonly steps: readonly ProgressStep[]
  /** 0 to 100: moves done plus the fraction of each move in flight, over the moves planned. */
  readonly percentage: number
}

/** The part of an operation task's `details` progress is computed from. */
interface MoveCounts {
  movesPlanned?: unknown
  movesDone?: unknown
  inFlight?: unknown
}

const count = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0

/** The steps of each operation, in order: replicas move first, then the node is recorded gone. */
const FINAL_STEP: Readonly<Record<string, string | null>> = {
  clusterRebalance: null,
  nodeDrain: 'recording the node as left',
  nodeReplace: 'dropping the old node from the shard map',
}

/**
 * The progress of a task while it runs; `null` for a task that is not a cluster operation, one
 * not started yet and one that ended (as a Meilisearch batch's progress is `null` once it ended).
 * A rebalance has one step, its replica moves; a drain or a replace has two: moving the node's
 * replicas, then recording the node gone. The moves step nests the catch-up of the moves in flight.
 */
export function operationTaskProgress(task: StoredTask): TaskProgress | null {
  const kind = task.operation?.kind
  if (kind === undefined || !(kind in FINAL_STEP) || task.status !== 'processing') return null
  const details = (task.details ?? {}) as MoveCounts
  const done = count(details.movesDone)
  const inFlight = Array.isArray(details.inFlight) ? details.inFlight : []
  const caughtUp = inFlight.reduce<number>(
    (sum, m) => sum + Math.min(1, count((m as { progress?: unknown }).progress)),
    0,
  )
  // The plan may grow while the operation runs; never report more done than planned.
  const total = Math.max(count(details.movesPlanned), done + inFlight.length)
  const moving = done < total || inFlight.length > 0
  const moves: ProgressStep[] = [{ currentStep: 'replica moves', finished: done, total }]
  if (inFlight.length > 0)
    moves.push({
      currentStep: 'new replicas catching up',
      finished: Math.floor((100 * caughtUp) / inFlight.length),
      total: 100,
    })
  const moved = total === 0 ? 1 : (done + caughtUp) / total
  const final = FINAL_STEP[kind] ?? null
  let steps: ProgressStep[]
  let share: number
  if (final === null) {
    steps = moves
    share = moved
  } else if (moving) {
    steps = [{ currentStep: 'moving replicas', finished: 0, total: 2 }, ...moves]
    share = moved / 2
  } else {
    steps = [{ currentStep: final, finished: 1, total: 2 }]
    share = 0.5
  }
  // Until the task succeeds it is not 100 % done.
  return { steps, percentage: Math.min(99.99, Math.round(share * 10_000) / 100) }
}
