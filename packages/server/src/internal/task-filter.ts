import { badRequest } from './errors.ts'
import { checkIndexUid } from './route-spec.ts'
import { TASK_STATUSES, type Task, type TaskStatus } from './task-types.ts'

/**
 * The task filters of `GET /tasks`, `POST /tasks/cancel` and `DELETE /tasks`,
 * parsed from the query string as Meilisearch parses them: every list is
 * comma-separated and `*` means "any"; dates are RFC 3339 date-times or bare
 * `YYYY-MM-DD` days; `after*` bounds are exclusive lower bounds and `before*`
 * exclusive upper bounds. A bare day given as an `after*` bound means the end
 * of that day (the next midnight, UTC), as a `before*` bound its start.
 *
 * Every filter given narrows the selection; none is ever dropped. A task
 * whose timestamp is still `null` (not started, not finished) never matches a
 * bound on that timestamp.
 */

/** An instant with nanosecond detail: task times are millisecond-precise, filters may be finer. */
export interface Instant {
  ms: number
  /** Nanoseconds past `ms`, 0 ≤ nanos < 1e6. */
  nanos: number
}

export interface TaskFilter {
  uids?: number[]
  batchUids?: number[]
  canceledBy?: number[]
  statuses?: TaskStatus[]
  types?: string[]
  indexUids?: string[]
  afterEnqueuedAt?: Instant
  beforeEnqueuedAt?: Instant
  afterStartedAt?: Instant
  beforeStartedAt?: Instant
  afterFinishedAt?: Instant
  beforeFinishedAt?: Instant
  /** Page size of a listing. @defaultValue 20 */
  limit?: number
  /** Uid to start the listing from (included). */
  from?: number
  /** Oldest first. @defaultValue false */
  reverse?: boolean
}

/** The filters every task route takes, in the order Meilisearch lists them. */
export const TASK_FILTER_PARAMS = [
  'uids',
  'batchUids',
  'indexUids',
  'statuses',
  'types',
  'canceledBy',
  'beforeEnqueuedAt',
  'afterEnqueuedAt',
  'beforeStartedAt',
  'afterStartedAt',
  'beforeFinishedAt',
  'afterFinishedAt',
] as const

/** What `GET /tasks` takes on top of the filters. */
export const TASK_LIST_PARAMS = [...TASK_FILTER_PARAMS, 'limit', 'from', 'reverse'] as const

/**
 * Every task type a current Meilisearch names, plus Shoal's own `backupCreation` and cluster
 * operations. A filter on a type Shoal never creates is valid and matches nothing, as it does there.
 */
export const KNOWN_TASK_TYPES: readonly string[] = [
  'backupCreation',
  'documentAdditionOrUpdate',
  'documentEdition',
  'documentDeletion',
  'settingsUpdate',
  'indexCreation',
  'indexDeletion',
  'indexUpdate',
  'indexSwap',
  'taskCancelation',
  'taskDeletion',
  'dumpCreation',
  'snapshotCreation',
  'export',
  'upgradeDatabase',
  'indexCompaction',
  // Shoal's own: cluster operations.
  'clusterRebalance',
  'nodeDrain',
  'nodeReplace',
]

const DATE_FIELDS = {
  afterEnqueuedAt: 'invalid_task_after_enqueued_at',
  beforeEnqueuedAt: 'invalid_task_before_enqueued_at',
  afterStartedAt: 'invalid_task_after_started_at',
  beforeStartedAt: 'invalid_task_before_started_at',
  afterFinishedAt: 'invalid_task_after_finished_at',
  beforeFinishedAt: 'invalid_task_before_finished_at',
} as const

type DateField = keyof typeof DATE_FIELDS

const U32_MAX = 2 ** 32 - 1

/**
 * Parses the query of a task route. `kind` is `list` for `GET /tasks` (which
 * also takes `limit`, `from`, `reverse`); unknown parameters are refused.
 * Throws a 400 `ApiError` with Meilisearch's code for the first bad value.
 */
export function parseTaskQuery(
  query: Record<string, string | undefined>,
  kind: 'list' | 'control',
): TaskFilter {
  const allowed: readonly string[] = kind === 'list' ? TASK_LIST_PARAMS : TASK_FILTER_PARAMS
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name)) {
      throw badRequest(
        'bad_request',
        `Unknown parameter \`${name}\`: expected one of ${allowed.map((p) => `\`${p}\``).join(', ')}`,
      )
    }
  }
  const filter: TaskFilter = {}
  const uids = uintList(query.uids, 'uids', 'invalid_task_uids')
  if (uids !== undefined) filter.uids = uids
  const batchUids = uintList(query.batchUids, 'batchUids', 'invalid_batch_uids')
  if (batchUids !== undefined) filter.batchUids = batchUids
  const canceledBy = uintList(query.canceledBy, 'canceledBy', 'invalid_task_canceled_by')
  if (canceledBy !== undefined) filter.canceledBy = canceledBy
  const statuses = enumList(query.statuses, 'statuses', 'invalid_task_statuses', TASK_STATUSES, 'status')
  if (statuses !== undefined) filter.statuses = statuses as TaskStatus[]
  const types = enumList(query.types, 'types', 'invalid_task_types', KNOWN_TASK_TYPES, 'task type')
  if (types !== undefined) filter.types = types
  const indexUids = starOrList(query.indexUids)
  if (indexUids !== undefined) filter.indexUids = indexUids.map((uid) => indexUidParam(uid))
  for (const field of Object.keys(DATE_FIELDS) as DateField[]) {
    const instant = dateParam(query[field], field)
    if (instant !== undefined) filter[field] = instant
  }
  if (kind === 'list') {
    filter.limit = u32Param(query.limit, 'limit', 'invalid_task_limit') ?? 20
    const from = u32Param(query.from, 'from', 'invalid_task_from')
    if (from !== undefined) filter.from = from
    const reverse = query.reverse
    if (reverse !== undefined) {
      if (reverse !== 'true' && reverse !== 'false') {
        throw badRequest(
          'invalid_task_reverse',
          `Invalid value in parameter \`reverse\`: could not parse \`${reverse}\` as a boolean.`,
        )
      }
      filter.reverse = reverse === 'true'
    }
  }
  return filter
}

/** Whether a cancel or delete request names at least one filter (`*` counts, as in Meilisearch). */
export function hasTaskFilter(query: Record<string, string | undefined>): boolean {
  return TASK_FILTER_PARAMS.some((p) => query[p] !== undefined)
}

/** True when `task` passes every filter given. */
export function taskMatches(task: Task, filter: TaskFilter): boolean {
  return (
    (filter.uids === undefined || filter.uids.includes(task.uid)) &&
    (filter.batchUids === undefined ||
      (task.batchUid !== null && filter.batchUids.includes(task.batchUid))) &&
    (filter.canceledBy === undefined ||
      (task.canceledBy !== null && filter.canceledBy.includes(task.canceledBy))) &&
    (filter.statuses === undefined || filter.statuses.includes(task.status)) &&
    (filter.types === undefined || filter.types.includes(task.type)) &&
    (filter.indexUids === undefined ||
      (task.indexUid !== null && filter.indexUids.includes(task.indexUid))) &&
    within(task.enqueuedAt, filter.afterEnqueuedAt, filter.beforeEnqueuedAt) &&
    within(task.startedAt, filter.afterStartedAt, filter.beforeStartedAt) &&
    within(task.finishedAt, filter.afterFinishedAt, filter.beforeFinishedAt)
  )
}

function within(at: string | null, after: Instant | undefined, before: Instant | undefined): boolean {
  if (after === undefined && before === undefined) return true
  if (at === null) return false
  const ms = Date.parse(at)
  // The task's instant is whole milliseconds (nanos = 0).
  if (after !== undefined && !(ms > after.ms)) return false
  if (before !== undefined && !(ms < before.ms || (ms === before.ms && before.nanos > 0))) return false
  return true
}

/** `*` (or absent) is no restriction; an empty item is an error of the caller. */
function starOrList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const items = value.split(',').map((v) => v.trim())
  if (items.includes('*')) return undefined
  return items
}

function uintList(value: string | undefined, name: string, code: string): number[] | undefined {
  return starOrList(value)?.map((item, i) => {
    if (!/^\d+$/.test(item) || Number(item) > U32_MAX) {
      throw badRequest(
        code,
        `Invalid value in parameter \`${name}[${i}]\`: could not parse \`${item}\` as a positive integer`,
      )
    }
    return Number(item)
  })
}

function enumList(
  value: string | undefined,
  name: string,
  code: string,
  allowed: readonly string[],
  what: string,
): string[] | undefined {
  return starOrList(value)?.map((item) => {
    if (!allowed.includes(item)) {
      throw badRequest(
        code,
        `Invalid value in parameter \`${name}\`: \`${item}\` is not a valid ${what}. Available ${what === 'status' ? 'statuses' : 'types'} are ${allowed.map((a) => `\`${a}\``).join(', ')}.`,
      )
    }
    return item
  })
}

function indexUidParam(uid: string): string {
  try {
    return checkIndexUid(uid)
  } catch {
    throw badRequest(
      'invalid_index_uid',
      `Invalid value in parameter \`indexUids\`: \`${uid}\` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.`,
    )
  }
}

function u32Param(value: string | undefined, name: string, code: string): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value) || Number(value) > U32_MAX) {
    throw badRequest(
      code,
      `Invalid value in parameter \`${name}\`: could not parse \`${value}\` as a positive integer`,
    )
  }
  return Number(value)
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

function dateParam(value: string | undefined, field: DateField): Instant | undefined {
  if (value === undefined || value === '*') return undefined
  const instant = parseInstant(value, field.startsWith('after'))
  if (instant === undefined) {
    throw badRequest(
      DATE_FIELDS[field],
      `Invalid value in parameter \`${field}\`: \`${value}\` is an invalid date-time. It should follow the YYYY-MM-DD or RFC 3339 date-time format.`,
    )
  }
  return instant
}

/** Parses an RFC 3339 date-time or a bare day; undefined when it is neither (or not a real date). */
export function parseInstant(value: string, dayMeansEnd: boolean): Instant | undefined {
  const day = DAY.exec(value)
  if (day !== null) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])]
    if (!realDate(y, m, d)) return undefined
    const start = Date.UTC(y, m - 1, d)
    return { ms: dayMeansEnd ? start + 86_400_000 : start, nanos: 0 }
  }
  const full = RFC3339.exec(value)
  if (full === null) return undefined
  const [y, m, d, hh, mm, ss] = [1, 2, 3, 4, 5, 6].map((i) => Number(full[i]))
  if (!realDate(y!, m!, d!) || hh! > 23 || mm! > 59 || ss! > 60) return undefined
  const zone = full[8]!.toUpperCase()
  const offsetMinutes =
    zone === 'Z'
      ? 0
      : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)))
  const fraction = (full[7] ?? '').padEnd(9, '0')
  const wholeMs = Date.UTC(y!, m! - 1, d!, hh!, mm!, ss!) - offsetMinutes * 60_000
  return { ms: wholeMs + Number(fraction.slice(0, 3)), nanos: Number(fraction.slice(3)) }
}

function realDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate()
}
