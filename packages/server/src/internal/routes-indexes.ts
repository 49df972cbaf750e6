import { notOnThisNode } from './backups.ts'
import { badRequest, invalidApiKey } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, intParam, type RouteSpec } from './route-spec.ts'
import type { IndexSwap } from './task-types.ts'

/** `/indexes`: list, create, get, update (primary key, rename), delete; `/swap-indexes`; index stats. */
export const indexRoutes: RouteSpec[] = [
  {
    method: 'GET',
    url: '/indexes',
    action: 'indexes.get',
    tag: 'Indexes',
    summary: 'List indexes (sorted by uid) with offset/limit',
    queryParams: ['offset', 'limit'],
    handler({ query, services, grant }) {
      const offset = intParam(query.offset, 'invalid_index_offset', 'offset', 0)
      const limit = intParam(query.limit, 'invalid_index_limit', 'limit', 20)
      const all = services.engine.listIndexes().filter((i) => grant.allowsIndex(i.uid))
      return { results: all.slice(offset, offset + limit), offset, limit, total: all.length }
    },
  },
  {
    method: 'POST',
    url: '/indexes',
    action: 'indexes.create',
    tag: 'Indexes',
    summary: 'Create an index (a task)',
    status: 202,
    body: 'json',
    async handler({ body, contentType, services, grant }) {
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input) || input.uid === undefined)
        throw badRequest('missing_index_uid', 'Missing field `uid`')
      const uid = checkIndexUid(input.uid)
      if (!grant.allowsIndex(uid)) throw invalidApiKey()
      const primaryKey = optionalPrimaryKey(input.primaryKey, 'invalid_index_primary_key')
      for (const key of Object.keys(input)) {
        if (key !== 'uid' && key !== 'primaryKey' && key !== 'sharding')
          throw badRequest(
            'bad_request',
            `Unknown field \`${key}\`: expected one of \`uid\`, \`primaryKey\`, \`sharding\``,
          )
      }
      let sharding: Record<string, unknown> | undefined
      if (input.sharding !== undefined) {
        if (services.cluster === undefined)
          throw badRequest('invalid_sharding', '`sharding` needs a cluster: this node runs standalone.')
        if (!isPlainObject(input.sharding))
          throw badRequest('invalid_sharding', '`sharding` must be an object')
        sharding = input.sharding
      }
      return services.queue.enqueue({
        type: 'indexCreation',
        indexUid: uid,
        operation: {
          kind: 'createIndex',
          ...(primaryKey === undefined ? {} : { primaryKey }),
          ...(sharding === undefined ? {} : { sharding }),
        },
        details: { primaryKey: primaryKey ?? null },
      })
    },
  },
  {
    method: 'GET',
    url: '/indexes/:indexUid',
    action: 'indexes.get',
    tag: 'Indexes',
    summary: 'Get one index',
    handler({ params, services }) {
      return services.engine.getIndex(checkIndexUid(params.indexUid))
    },
  },
  {
    method: 'PATCH',
    url: '/indexes/:indexUid',
    action: 'indexes.update',
    tag: 'Indexes',
    summary:
      "Update an index's primary key (only while it has no documents) and/or rename it with a new `uid` (a task)",
    status: 202,
    body: 'json',
    async handler({ params, body, contentType, services, grant }) {
      const uid = checkIndexUid(params.indexUid)
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
      for (const key of Object.keys(input)) {
        if (key !== 'primaryKey' && key !== 'uid') {
          throw badRequest('bad_request', `Unknown field \`${key}\`: expected one of \`primaryKey\`, \`uid\``)
        }
      }
      const primaryKey = optionalPrimaryKey(input.primaryKey, 'invalid_index_primary_key')
      const newUid = input.uid === undefined || input.uid === null ? undefined : checkIndexUid(input.uid)
      if (primaryKey === undefined && newUid === undefined)
        throw badRequest('bad_request', 'Give `primaryKey`, `uid` (a new name), or both')
      if (newUid !== undefined && services.engine.swapIndexes === undefined)
        throw notOnThisNode('Index renames')
      // Renaming writes the target uid too: the key must cover it.
      if (newUid !== undefined && !grant.allowsIndex(newUid)) throw invalidApiKey()
      return services.queue.enqueue({
        type: 'indexUpdate',
        indexUid: uid,
        operation: {
          kind: 'updateIndex',
          ...(primaryKey !== undefined ? { primaryKey } : {}),
          ...(newUid !== undefined ? { newUid } : {}),
        },
        details: {
          primaryKey: primaryKey ?? null,
          ...(newUid !== undefined ? { oldIndexUid: uid, newIndexUid: newUid } : {}),
        },
      })
    },
  },
  {
    method: 'DELETE',
    url: '/indexes/:indexUid',
    action: 'indexes.delete',
    tag: 'Indexes',
    summary: 'Delete an index and its documents (a task)',
    status: 202,
    async handler({ params, services }) {
      const uid = checkIndexUid(params.indexUid)
      return services.queue.enqueue({
        type: 'indexDeletion',
        indexUid: uid,
        operation: { kind: 'deleteIndex' },
        // Meilisearch's shape from the start: a failed deletion keeps `deletedDocuments: null`.
        details: { deletedDocuments: null },
      })
    },
  },
  {
    method: 'POST',
    url: '/swap-indexes',
    action: 'indexes.swap',
    tag: 'Indexes',
    summary:
      'Swap pairs of indexes (documents, settings and task history), or rename with `rename: true`; all pairs or none (a task)',
    status: 202,
    body: 'json',
    async handler({ body, contentType, services, grant }) {
      if (services.engine.swapIndexes === undefined) throw notOnThisNode('Index swaps')
      const swaps = parseSwaps(readJsonBody(body, contentType))
      for (const { indexes } of swaps)
        for (const uid of indexes) if (!grant.allowsIndex(uid)) throw invalidApiKey()
      return services.queue.enqueue({
        type: 'indexSwap',
        indexUid: null,
        operation: { kind: 'swapIndexes', swaps },
        details: { swaps },
      })
    },
  },
  {
    method: 'GET',
    url: '/indexes/:indexUid/stats',
    action: 'stats.get',
    tag: 'Stats',
    summary: 'Document count and field distribution of one index',
    async handler({ params, services }) {
      const uid = checkIndexUid(params.indexUid)
      services.engine.getIndex(uid)
      const stats = (await services.engine.stats()).indexes[uid]
      return {
        numberOfDocuments: stats?.numberOfDocuments ?? 0,
        isIndexing: services.queue.list({ indexUids: [uid], statuses: ['processing'], limit: 1 }).total > 0,
        fieldDistribution: stats?.fieldDistribution ?? {},
      }
    },
  },
]

/** The body of `POST /swap-indexes`, checked whole before the task is enqueued. */
function parseSwaps(input: unknown): IndexSwap[] {
  if (!Array.isArray(input)) {
    throw badRequest('bad_request', 'Invalid value type: expected an array of `{ indexes, rename }` objects')
  }
  const seen = new Set<string>()
  return input.map((item: unknown, i) => {
    if (!isPlainObject(item)) {
      throw badRequest('bad_request', `Invalid value type at \`[${i}]\`: expected an object`)
    }
    for (const key of Object.keys(item)) {
      if (key !== 'indexes' && key !== 'rename') {
        throw badRequest(
          'bad_request',
          `Unknown field \`${key}\` at \`[${i}]\`: expected one of \`indexes\`, \`rename\``,
        )
      }
    }
    const pair = item.indexes
    if (pair === undefined)
      throw badRequest('missing_swap_indexes', `Missing field \`indexes\` at \`[${i}]\``)
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((uid) => typeof uid !== 'string')) {
      throw badRequest(
        'invalid_swap_indexes',
        `Invalid value at \`[${i}].indexes\`: expected an array of two index uids, but found ${JSON.stringify(pair)}`,
      )
    }
    const rename = item.rename ?? false
    if (typeof rename !== 'boolean') {
      throw badRequest('invalid_swap_rename', `Invalid value type at \`[${i}].rename\`: expected a boolean`)
    }
    for (const uid of pair as string[]) {
      checkIndexUid(uid)
      if (seen.has(uid)) {
        throw badRequest(
          'invalid_swap_duplicate_index_found',
          `Indexes must be declared only once during a swap. \`${uid}\` was specified several times.`,
        )
      }
      seen.add(uid)
    }
    return { indexes: [pair[0], pair[1]] as [string, string], rename }
  })
}

function optionalPrimaryKey(value: unknown, code: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value === '') {
    throw badRequest(
      code,
      `Invalid value type at \`.primaryKey\`: expected a string, but found ${JSON.stringify(value)}`,
    )
  }
  return value
}
