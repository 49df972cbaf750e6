import { ApiError, badRequest } from './errors.ts'
import { intParam, listParam, type RouteSpec } from './route-spec.ts'
import { TASK_STATUSES, TASK_TYPES, type TaskStatus, type TaskType } from './task-types.ts'

export const taskRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/tasks',
    action: 'tasks.get',
    tag: 'Tasks',
    summary: 'List tasks, newest first, filtered by uids, statuses, types, indexUids; paged with limit/from',
    queryParams: ['uids', 'statuses', 'types', 'indexUids', 'limit', 'from', 'reverse'],
    handler({ query, services, grant }) {
      const uids = listParam(query.uids)?.map((u) => {
        const n = Number(u)
        if (!Number.isInteger(n) || n < 0)
          throw badRequest(
            'invalid_task_uids',
            `Invalid value in parameter \`uids\`: \`${u}\` is not a task uid`,
          )
        return n
      })
      const statuses = oneOf(listParam(query.statuses), TASK_STATUSES, 'invalid_task_statuses', 'statuses') as
        | TaskStatus[]
        | undefined
      const types = oneOf(listParam(query.types), TASK_TYPES, 'invalid_task_types', 'types') as
        | TaskType[]
        | undefined
      let indexUids = listParam(query.indexUids)
      if (!grant.allIndexes)
        indexUids = (indexUids ?? services.engine.listIndexes().map((i) => i.uid)).filter(grant.allowsIndex)
      const from = query.from === undefined ? undefined : intParam(query.from, 'invalid_task_from', 'from', 0)
      return services.queue.list({
        limit: intParam(query.limit, 'invalid_task_limit', 'limit', 20),
        reverse: query.reverse === 'true',
        ...(uids !== undefined ? { uids } : {}),
        ...(statuses !== undefined ? { statuses } : {}),
        ...(types !== undefined ? { types } : {}),
        ...(indexUids !== undefined ? { indexUids } : {}),
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
      if (!/^\d+$/.test(raw))
        throw badRequest('invalid_task_uids', `Invalid task uid \`${raw}\`: expected a positive integer`)
      const task = services.queue.get(Number(raw))
      if (task === undefined || (task.indexUid !== null && !grant.allowsIndex(task.indexUid))) {
        throw new ApiError(404, 'task_not_found', `Task \`${raw}\` not found.`)
      }
      return task
    },
  },
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
