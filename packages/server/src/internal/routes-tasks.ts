import type { Grant } from './api-keys.ts'
import { ApiError, badRequest } from './errors.ts'
import type { RouteSpec, Services } from './route-spec.ts'
import {
  hasTaskFilter,
  parseTaskQuery,
  TASK_FILTER_PARAMS,
  TASK_LIST_PARAMS,
  type TaskFilter,
} from './task-filter.ts'

/** A key limited to some indexes sees, cancels and deletes only their tasks. */
function restrictToGrant(filter: TaskFilter, services: Services, grant: Grant): TaskFilter {
  if (grant.allIndexes) return filter
  const indexUids = (filter.indexUids ?? services.engine.listIndexes().map((i) => i.uid)).filter(
    grant.allowsIndex,
  )
  return { ...filter, indexUids }
}

function controlRoute(kind: 'cancel' | 'delete'): RouteSpec {
  return {
    method: kind === 'cancel' ? 'POST' : 'DELETE',
    url: kind === 'cancel' ? '/tasks/cancel' : '/tasks',
    action: kind === 'cancel' ? 'tasks.cancel' : 'tasks.delete',
    tag: 'Tasks',
    summary:
      kind === 'cancel'
        ? 'Cancel the enqueued tasks matching every filter given (at least one; `*` counts); a running batch finishes'
        : 'Delete the finished tasks matching every filter given (at least one; `*` counts)',
    status: 202,
    queryParams: [...TASK_FILTER_PARAMS],
    handler({ query, rawQuery, services, grant }) {
      const parsed = parseTaskQuery(query, 'control')
      if (!hasTaskFilter(query)) {
        throw badRequest(
          'missing_task_filters',
          `Query parameters to filter the tasks to ${kind} are missing. Available query parameters are: ${TASK_FILTER_PARAMS.map((p) => `\`${p}\``).join(', ')}.`,
        )
      }
      const filter = restrictToGrant(parsed, services, grant)
      // Meilisearch records the query string exactly as sent, still URL-encoded.
      return services.queue.control(kind, filter, `?${rawQuery}`)
    },
  }
}

export const taskRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/tasks',
    action: 'tasks.get',
    tag: 'Tasks',
    summary:
      'List tasks, newest first (`reverse=true`: oldest first), matching every filter given; paged with `limit` and `from`',
    queryParams: [...TASK_LIST_PARAMS],
    handler({ query, services, grant }) {
      return services.queue.list(restrictToGrant(parseTaskQuery(query, 'list'), services, grant))
    },
  },
  {
    method: 'GET',
    url: '/tasks/:taskUid',
    action: 'tasks.get',
    tag: 'Tasks',
    summary:
      'One task with its status, details and error; a cluster operation task (`clusterRebalance`, `nodeDrain`, `nodeReplace`) also has `progress` (Meilisearch batch progress shape, `null` unless processing)',
    async handler({ params, services, grant }) {
      const raw = params.taskUid ?? ''
      if (!/^\d+$/.test(raw)) {
        throw badRequest('invalid_task_uids', `Invalid task uid \`${raw}\`: expected a positive integer`)
      }
      const task = await services.queue.get(Number(raw))
      if (task === undefined || (task.indexUid !== null && !grant.allowsIndex(task.indexUid))) {
        throw new ApiError(404, 'task_not_found', `Task \`${raw}\` not found.`)
      }
      return task
    },
  },
  controlRoute('cancel'),
  controlRoute('delete'),
  {
    method: 'GET',
    url: '/batches',
    action: 'tasks.get',
    tag: 'Tasks',
    summary:
      'List the batches tasks ran in, newest first, with progress and stats; takes the filters of `GET /tasks` (`uids` are batch uids)',
    queryParams: [...TASK_LIST_PARAMS],
    handler({ query, services, grant }) {
      return services.queue.listBatches(restrictToGrant(parseTaskQuery(query, 'list'), services, grant))
    },
  },
  {
    method: 'GET',
    url: '/batches/:batchUid',
    action: 'tasks.get',
    tag: 'Tasks',
    summary: 'One batch: its tasks counted by status, type and index, its merged details and progress',
    handler({ params, services, grant }) {
      const raw = params.batchUid ?? ''
      if (!/^\d+$/.test(raw)) {
        throw badRequest('invalid_batch_uids', `Invalid batch uid \`${raw}\`: expected a positive integer`)
      }
      const batch = services.queue.getBatch(Number(raw))
      const visible =
        batch !== undefined &&
        (grant.allIndexes ||
          (Object.keys(batch.stats.indexUids).length > 0 &&
            Object.keys(batch.stats.indexUids).every((uid) => grant.allowsIndex(uid))))
      if (!visible) throw new ApiError(404, 'batch_not_found', `Batch \`${raw}\` not found.`)
      return batch
    },
  },
]
