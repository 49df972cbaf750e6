// @shoal/server: a standalone Shoal node serving a Meilisearch-compatible HTTP API.
export { ACTIONS, type Action, type ApiKey, deriveKey } from './internal/api-keys.ts'
export { routeTable } from './internal/app.ts'
export { renderCompatibility } from './internal/compatibility.ts'
export {
  type ConfigSources,
  DEFAULT_CONFIG,
  FIELDS as CONFIG_FIELDS,
  isLoopback,
  parseHttpAddr,
  readTomlConfig,
  resolveConfig,
  type ServerConfig,
} from './internal/config.ts'
export type { EnginePort, IndexPort } from './internal/engine-port.ts'
export { ApiError, ConfigError, type ErrorBody, TaskLogCorruptionError } from './internal/errors.ts'
export { buildOpenApi, renderApiMarkdown } from './internal/openapi.ts'
export type { RateLimitConfig } from './internal/rate-limit.ts'
export {
  type CreateServerOptions,
  createLogger,
  createServer,
  dataPaths,
  type ShoalServer,
} from './internal/server.ts'
export type { Instant, TaskFilter } from './internal/task-filter.ts'
export { TaskLog } from './internal/task-log.ts'
export { type TaskPage, TaskQueue, type TaskQueueOptions } from './internal/task-queue.ts'
export type { Task, TaskStatus, TaskSummary, TaskType } from './internal/task-types.ts'
