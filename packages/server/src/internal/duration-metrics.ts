import { Histogram, type Registry } from 'prom-client'

/** Buckets for work that takes from a few milliseconds to an hour (snapshots, backups, tasks). */
const LONG_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

/**
 * The histograms of long operations: backups, tasks (dumps and snapshots among them), engine
 * snapshot writes and Raft snapshot transfers and installs. The server and the cluster runtime
 * share one registry, so each histogram is created once per registry and found again after.
 */
export interface DurationMetrics {
  /** A backup from its start to its end, `mode` standalone or cluster, `status` succeeded or failed. */
  readonly backupSeconds: Histogram<'mode' | 'status'>
  /** A finished task from `startedAt` to `finishedAt`. */
  readonly taskSeconds: Histogram<'type' | 'status'>
  /** The engine writing a snapshot of its state (encode, write, fsync). */
  readonly engineSnapshotSeconds: Histogram
  /** A whole Raft snapshot sent to a shard replica, first chunk to last acknowledged send. */
  readonly raftSnapshotSendSeconds: Histogram
  /** A shard replica installing a received Raft snapshot into its engine. */
  readonly raftSnapshotInstallSeconds: Histogram
}

function histogram<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
): Histogram<T> {
  const existing = registry.getSingleMetric(name)
  if (existing !== undefined) return existing as Histogram<T>
  return new Histogram({ name, help, labelNames, buckets: LONG_BUCKETS, registers: [registry] })
}

export function durationMetrics(registry: Registry): DurationMetrics {
  return {
    backupSeconds: histogram(
      registry,
      'shoal_backup_duration_seconds',
      'Backup creation time, by mode (standalone or cluster) and final status',
      ['mode', 'status'],
    ),
    taskSeconds: histogram(
      registry,
      'shoal_task_duration_seconds',
      'Processing time of finished tasks (startedAt to finishedAt), by type and final status',
      ['type', 'status'],
    ),
    engineSnapshotSeconds: histogram(
      registry,
      'shoal_engine_snapshot_duration_seconds',
      "Time to write a snapshot of the node's engine (encode, write, fsync)",
      [],
    ),
    raftSnapshotSendSeconds: histogram(
      registry,
      'shoal_raft_snapshot_send_duration_seconds',
      'Time to send a whole Raft snapshot to a shard replica (first chunk to last)',
      [],
    ),
    raftSnapshotInstallSeconds: histogram(
      registry,
      'shoal_raft_snapshot_install_duration_seconds',
      'Time for a shard replica to install a received Raft snapshot',
      [],
    ),
  }
}

/** Seconds between a task's `startedAt` and `finishedAt`, or null when either is missing. */
export function taskSeconds(task: { startedAt: string | null; finishedAt: string | null }): number | null {
  if (task.startedAt === null || task.finishedAt === null) return null
  const seconds = (Date.parse(task.finishedAt) - Date.parse(task.startedAt)) / 1000
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null
}
