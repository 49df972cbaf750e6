import type { Grant } from './api-keys.ts'
import { ApiError, badRequest } from './errors.ts'
import { intParam, listParam, type RouteSpec, type Services } from './route-spec.ts'
import type { TaskFilter } from './task-queue.ts'
import { TASK_STATUSES, TASK_TYPES, type TaskStatus, type TaskType } from './task-types.ts'

const FILTER_PARAMS = ['uids', 'statuses', 'types', 'indexUids']

/** The filters shared by listing, canceling and deleting tasks; a key sees only its indexes. */
function parseTaskFilter(
  query: Record<string, string | undefined>,
  services: Services,
  grant: Grant,
): TaskFilter {
  const uids = listParam(query.uids)?.map((u) => {
    const n = Number(u)
    if (!Number.isInteger(n) || n < 0) {
      throw badRequest('invalid_task_uids', `Invalid value in parameter \`uids\`: \`${u}\` is not a task uid`)
    }
    return n
  })
  const statuses = oneOf(listParam(query.statuses), TASK_STATUSES, 'invalid_task_statuses', 'statuses') as
    | TaskStatus[]
    | undefined
  const types = oneOf(listParam(query.types), TASK_TYPES, 'invalid_task_types', 'types') as
    | TaskType[]
    | undefined
  let indexUids = listParam(query.indexUids)
  if (!grant.allIndexes) {
    indexUids = (indexUids ?? services.engine.listIndexes().map((i) => i.uid)).filter(grant.allowsIndex)
  }
  return {
    ...(uids !== undefined ? { uids } : {}),
    ...(statuses !== undefined ? { statuses } : {}),
    ...(types !== undefined ? { types } : {}),
    ...(indexUids !== undefined ? { indexUids } : {}),
  }
}

function controlRoute(kind: 'cancel' | 'delete'): RouteSpec {
  return {
    method: kind === 'cancel' ? 'POST' : 'DELETE',
    url: kind === 'cancel' ? '/tasks/cancel' : '/tasks',
    action: kind === 'cancel' ? 'tasks.cancel' : 'tasks.delete',
    tag: 'Tasks',
    summary:
      kind === 'cancel'
        ? 'Cancel the enqueued tasks matching uids, statuses, types, indexUids (at least one filter)'
        : 'Delete the finished tasks matching uids, statuses, types, indexUids (at least one filter)',
    status: 202,
    queryParams: FILTER_PARAMS,
    handler({ query, services, grant }) {
      const given = FILTER_PARAMS.filter((p) => query[p] !== undefined)
      if (given.length === 0) {
        throw badRequest(
          'missing_task_filters',
          `Query parameters to filter the tasks to ${kind} are missing. Available query parameters are: ${FILTER_PARAMS.join(', ')}.`,
        )
      }
      const original = `?${given.map((p) => `${p}=${query[p]}`).join('&')}`
      return services.queue.control(kind, parseTaskFilter(query, services, grant), original)
    },
  }
}

export const taskRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/tasks',
    action: 'tasks.get',
    tag: 'Tasks',
    summary: 'List tasks, newest first, filtered by uids, statuses, types, indexUids; paged with limit/from',
    queryParams: [...FILTER_PARAMS, 'limit', 'from', 'reverse'],
    handler({ query, services, grant }) {
      const from = query.from === undefined ? undefined : intParam(query.from, 'invalid_task_from', 'from', 0)
      return services.queue.list({
        ...parseTaskFilter(query, services, grant),
        limit: intParam(query.limit, 'invalid_task_limit', 'limit', 20),
        reverse: query.reverse === 'true',
        ...(from !== undefined ? { from } : {}),
      })
    },
  },
  {
    method: 'GET',
    url: '/tasks/:taskUid',
    action: 'tasks.get',
    tag: 'Tasks',
    summary: 'One task with its status, details and error',
    handler({ params, services, grant }) {
      const raw = params.taskUid ?? ''
      if (!/^\d+$/.test(raw)) {
        throw badRequest('invalid_task_uids', `Invalid task uid \`${raw}\`: expected a positive integer`)
      }
      const task = services.queue.get(Number(raw))
      if (task === undefined || (task.indexUid !== null && !grant.allowsIndex(task.indexUid))) {
        throw new ApiError(404, 'task_not_found', `Task \`${raw}\` not found.`)
      }
      return task
    },
  },
  controlRoute('cancel'),
  controlRoute('delete'),
]

function oneOf(
  values: string[] | undefined,
  allowed: readonly string[],
  code: string,
  name: string,
): string[] | undefined {
  const bad = values?.find((v) => !allowed.includes(v))
  if (bad !== undefined) {
    throw badRequest(
      code,
      `Invalid value in parameter \`${name}\`: \`${bad}\` is not one of ${allowed.join(', ')}`,
    )
  }
  return values
}
