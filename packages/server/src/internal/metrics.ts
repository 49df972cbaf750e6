import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { type DurationMetrics, durationMetrics } from './duration-metrics.ts'
import type { EnginePort, IndexStats } from './engine-port.ts'

/** The node's own engine, whose statistics are read synchronously on every scrape. */
export type LocalEngine = Omit<EnginePort, 'stats'> & {
  stats(): { databaseSize: number; indexes: Record<string, IndexStats> }
}

/**
 * Prometheus metrics of one server. Each server owns its registry, so
 * several servers in one process (tests) do not mix figures.
 */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly requests: Counter<'method' | 'route' | 'status'>
  readonly requestSeconds: Histogram<'method' | 'route'>
  readonly taskLogFsyncSeconds: Histogram
  readonly engineLogFsyncSeconds: Histogram
  readonly tasksFinished: Counter<'type' | 'status'>
  /** Backups, tasks, engine snapshots and Raft snapshot transfers (duration-metrics.ts). */
  readonly durations: DurationMetrics

  constructor(engine: LocalEngine, queueDepth: () => number) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.durations = durationMetrics(this.registry)
    this.requests = new Counter({
      name: 'shoal_http_requests_total',
      help: 'HTTP requests by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    })
    this.requestSeconds = new Histogram({
      name: 'shoal_http_request_duration_seconds',
      help: 'HTTP request latency by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    })
    this.taskLogFsyncSeconds = new Histogram({
      name: 'shoal_task_log_fsync_duration_seconds',
      help: 'Time for a task-log append to become durable (write + fdatasync, group-committed)',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    })
    this.engineLogFsyncSeconds = new Histogram({
      name: 'shoal_engine_wal_fsync_duration_seconds',
      help: "Time for a group of the engine's commands to become durable in its WAL (write + fdatasync)",
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    })
    this.tasksFinished = new Counter({
      name: 'shoal_tasks_finished_total',
      help: 'Finished tasks by type and final status',
      labelNames: ['type', 'status'],
      registers,
    })
    new Gauge({
      name: 'shoal_task_queue_depth',
      help: 'Tasks enqueued or processing',
      registers,
      collect() {
        this.set(queueDepth())
      },
    })
    new Gauge({
      name: 'shoal_index_documents',
      help: 'Documents per index',
      labelNames: ['index'],
      registers,
      collect() {
        this.reset()
        for (const [uid, stats] of Object.entries(engine.stats().indexes)) {
          this.set({ index: uid }, stats.numberOfDocuments)
        }
      },
    })
    new Gauge({
      name: 'shoal_vector_backlog',
      help: 'Vector additions and removals accepted but not yet in the HNSW graphs (searches already see them)',
      registers,
      collect() {
        this.set(engine.vectorBacklog?.() ?? 0)
      },
    })
    new Gauge({
      name: 'shoal_database_size_bytes',
      help: 'Size of the data folder as the engine reports it',
      registers,
      collect() {
        this.set(engine.stats().databaseSize)
      },
    })
  }
}
