import { badRequest, invalidApiKey } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import { checkIndexUid, intParam, type RouteSpec } from './route-spec.ts'

/** `/indexes`: list, create, get, update the primary key, delete; index stats. */
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
    summary: "Update an index's primary key (a task; only while it has no documents)",
    status: 202,
    body: 'json',
    async handler({ params, body, contentType, services }) {
      const uid = checkIndexUid(params.indexUid)
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
      for (const key of Object.keys(input)) {
        if (key === 'uid') {
          throw badRequest(
            'invalid_index_uid',
            'Renaming an index (`uid` in `PATCH /indexes/{indexUid}`) is not supported by Shoal yet.',
          )
        }
        if (key !== 'primaryKey') {
          throw badRequest('bad_request', `Unknown field \`${key}\`: expected one of \`primaryKey\`, \`uid\``)
        }
      }
      const primaryKey = optionalPrimaryKey(input.primaryKey, 'invalid_index_primary_key')
      if (primaryKey === undefined)
        throw badRequest('invalid_index_primary_key', 'Missing field `primaryKey`')
      return services.queue.enqueue({
        type: 'indexUpdate',
        indexUid: uid,
        operation: { kind: 'updateIndex', primaryKey },
        details: { primaryKey },
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
