import type { Filter, Settings } from './engine-port.ts'
import type { ErrorBody } from './errors.ts'
import type { ExportRequest } from './export-task.ts'
import { operationTaskProgress, type TaskProgress } from './operation-task-progress.ts'

/** Task types, as Meilisearch names them. */
export type TaskType =
  | 'indexCreation'
  | 'indexUpdate'
  | 'indexDeletion'
  | 'documentAdditionOrUpdate'
  | 'documentDeletion'
  | 'settingsUpdate'
  | 'indexSwap'
  | 'taskCancelation'
  | 'taskDeletion'
  | 'dumpCreation'
  | 'snapshotCreation'
  | 'export'
  | 'backupCreation'
  /** Cluster operations (no Meilisearch counterpart): replica moves run by the metadata leader. */
  | 'clusterRebalance'
  | 'nodeDrain'
  | 'nodeReplace'

export const TASK_TYPES: readonly TaskType[] = [
  'indexCreation',
  'indexUpdate',
  'indexDeletion',
  'documentAdditionOrUpdate',
  'documentDeletion',
  'settingsUpdate',
  'indexSwap',
  'taskCancelation',
  'taskDeletion',
  'dumpCreation',
  'snapshotCreation',
  'export',
  'backupCreation',
  'clusterRebalance',
  'nodeDrain',
  'nodeReplace',
]

export type TaskStatus = 'enqueued' | 'processing' | 'succeeded' | 'failed' | 'canceled'

export const TASK_STATUSES: readonly TaskStatus[] = [
  'enqueued',
  'processing',
  'succeeded',
  'failed',
  'canceled',
]

/** One pair of `POST /swap-indexes`: swap the two, or (`rename`) move the first to the second uid. */
export interface IndexSwap {
  indexes: [string, string]
  rename: boolean
}

/** What a write task does once it runs; stored with the task so it can be re-run after a crash. */
export type Operation =
  | { kind: 'createIndex'; primaryKey?: string; sharding?: Record<string, unknown> }
  /** A new primary key, a new uid (a rename), or both. */
  | { kind: 'updateIndex'; primaryKey?: string; newUid?: string }
  | { kind: 'swapIndexes'; swaps: IndexSwap[] }
  | { kind: 'deleteIndex' }
  | {
      kind: 'addDocuments'
      method: 'replace' | 'update'
      primaryKey?: string
      /** File name of the documents, under the queue's payload folder. */
      payloadFile: string
      documentCount: number
      /** Only documents already in the index are written; the others are skipped. */
      skipCreation?: true
      /**
       * `?writeConcern=async`: on a cluster, the task succeeds once every shard leader's own log
       * holds its part durably, before a majority of the shard does (absent: `quorum`).
       */
      writeConcern?: 'async'
    }
  | { kind: 'deleteDocuments'; ids: (string | number)[] }
  | { kind: 'deleteByFilter'; filter: Filter }
  | { kind: 'deleteAll' }
  | { kind: 'updateSettings'; settings: { [K in keyof Settings]?: Settings[K] | null } }
  | { kind: 'resetSettings' }
  | { kind: 'createDump' }
  | { kind: 'createSnapshot' }
  /** `POST /export`: the request as validated (export-task.ts), the API key included. */
  | ({ kind: 'export' } & ExportRequest)
  /** `POST /admin/backups`: the backup's uid names its folder under the backup directory. */
  | { kind: 'createBackup'; backupUid: string }
  /** Task cancelation and deletion act on the queue itself, at once, and are recorded as done. */
  | { kind: 'taskControl' }
  /**
   * Cluster operations: the metadata leader starts them and follows their replica moves to the
   * end (cluster/cluster-operations.ts); the task scheduler never runs them.
   */
  | { kind: 'clusterRebalance' }
  | { kind: 'nodeDrain'; nodeId: string }
  | { kind: 'nodeReplace'; oldNodeId: string; newNodeId: string }

/** The operations of cluster tasks: followed by the metadata leader, not run by the task scheduler. */
export type ClusterOperation = Extract<Operation, { kind: 'clusterRebalance' | 'nodeDrain' | 'nodeReplace' }>

export function isClusterOperation(operation: Operation | undefined): operation is ClusterOperation {
  const kind = operation?.kind
  return kind === 'clusterRebalance' || kind === 'nodeDrain' || kind === 'nodeReplace'
}

/** A task as `GET /tasks/{uid}` returns it. */
export interface Task {
  uid: number
  batchUid: number | null
  indexUid: string | null
  status: TaskStatus
  type: TaskType
  canceledBy: number | null
  details: Record<string, unknown> | null
  error: ErrorBody | null
  duration: string | null
  enqueuedAt: string
  startedAt: string | null
  finishedAt: string | null
  /** The caller's string given with the write (`?customMetadata=`); absent when none was. */
  customMetadata?: string
  /**
   * Cluster operation tasks only (`clusterRebalance`, `nodeDrain`, `nodeReplace`): where the
   * operation stands, in the shape of a Meilisearch batch's progress; `null` unless processing.
   */
  progress?: TaskProgress | null
}

/** What the task log stores: the public task plus what is needed to run it. */
export interface StoredTask extends Task {
  operation: Operation
  /** A tombstone: the task was deleted (`DELETE /tasks`); kept so that its uid is never reused. */
  deleted?: true
}

/** The 202 answer to a write: `{ taskUid, indexUid, status, type, enqueuedAt }`. */
export interface TaskSummary {
  taskUid: number
  indexUid: string | null
  status: TaskStatus
  type: TaskType
  enqueuedAt: string
}

export function toPublicTask(task: StoredTask): Task {
  const { operation, deleted: _deleted, ...rest } = task
  return isClusterOperation(operation) ? { ...rest, progress: operationTaskProgress(task) } : rest
}

export function toSummary(task: Task): TaskSummary {
  return {
    taskUid: task.uid,
    indexUid: task.indexUid,
    status: task.status,
    type: task.type,
    enqueuedAt: task.enqueuedAt,
  }
}

/** ISO 8601 duration, as Meilisearch reports task durations (`PT0.012345S`). */
export function isoDuration(milliseconds: number): string {
  return `PT${(milliseconds / 1000).toFixed(6).replace(/\.?0+$/, '') || '0'}S`
}
