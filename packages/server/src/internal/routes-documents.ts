import type { Filter } from './engine-port.ts'
import { badRequest } from './errors.ts'
import { isPlainObject, readJsonBody } from './request-body.ts'
import {
  checkIndexUid,
  intParam,
  listParam,
  nonNegativeInt,
  type RouteContext,
  type RouteSpec,
  stringArray,
} from './route-spec.ts'

/** `/indexes/{uid}/documents`: writes are tasks; reads are answered at once. */
export const documentRoutes: RouteSpec[] = [
  addRoute('POST', 'replace', 'Add or replace documents (JSON, NDJSON or CSV; a task)'),
  addRoute('PUT', 'update', 'Add or update documents, merging fields (JSON, NDJSON or CSV; a task)'),
  {
    method: 'GET',
    url: '/indexes/:indexUid/documents',
    action: 'documents.get',
    tag: 'Documents',
    summary:
      'List documents with offset/limit/fields/filter/ids/sort/retrieveVectors (lists comma-separated)',
    queryParams: ['offset', 'limit', 'fields', 'filter', 'ids', 'sort', 'retrieveVectors'],
    handler({ params, query, services }) {
      const index = services.engine.index(checkIndexUid(params.indexUid))
      const fields = listParam(query.fields)
      const ids = query.ids === undefined ? undefined : splitList(query.ids)
      const sort = query.sort === undefined ? undefined : splitList(query.sort)
      return index.getDocuments({
        ...(ids !== undefined ? { ids } : {}),
        ...(sort !== undefined ? { sort } : {}),
        retrieveVectors: booleanQuery(
          query.retrieveVectors,
          'invalid_document_retrieve_vectors',
          'retrieveVectors',
        ),
        offset: intParam(query.offset, 'invalid_document_offset', 'offset', 0),
        limit: intParam(query.limit, 'invalid_document_limit', 'limit', 20),
        ...(fields !== undefined ? { fields } : {}),
        ...(query.filter !== undefined && query.filter !== '' ? { filter: query.filter } : {}),
      })
    },
  },
  {
    method: 'POST',
    url: '/indexes/:indexUid/documents/fetch',
    action: 'documents.get',
    tag: 'Documents',
    summary: 'List documents with a JSON body: offset, limit, fields, filter or ids, retrieveVectors',
    body: 'json',
    handler(ctx) {
      return fetchDocuments(ctx)
    },
  },
  {
    method: 'GET',
    url: '/indexes/:indexUid/documents/:documentId',
    action: 'documents.get',
    tag: 'Documents',
    summary: 'Get one document by its primary key',
    queryParams: ['fields', 'retrieveVectors'],
    handler({ params, query, services }) {
      const index = services.engine.index(checkIndexUid(params.indexUid))
      const fields = listParam(query.fields)
      const retrieveVectors = booleanQuery(
        query.retrieveVectors,
        'invalid_document_retrieve_vectors',
        'retrieveVectors',
      )
      return index.getDocument(params.documentId ?? '', {
        retrieveVectors,
        ...(fields !== undefined ? { fields } : {}),
      })
    },
  },
  {
    method: 'DELETE',
    url: '/indexes/:indexUid/documents/:documentId',
    action: 'documents.delete',
    tag: 'Documents',
    summary: 'Delete one document (a task)',
    status: 202,
    queryParams: ['customMetadata'],
    handler({ params, query, services }) {
      const uid = checkIndexUid(params.indexUid)
      const id = params.documentId ?? ''
      return services.queue.enqueue({
        type: 'documentDeletion',
        indexUid: uid,
        operation: { kind: 'deleteDocuments', ids: [id] },
        details: { providedIds: 1, deletedDocuments: null, originalFilter: null },
        ...metadata(query),
      })
    },
  },
  {
    method: 'POST',
    url: '/indexes/:indexUid/documents/delete-batch',
    action: 'documents.delete',
    tag: 'Documents',
    summary: 'Delete documents by primary key: body is an array of ids (a task)',
    status: 202,
    body: 'json',
    queryParams: ['customMetadata'],
    handler({ params, query, body, contentType, services }) {
      const uid = checkIndexUid(params.indexUid)
      const ids = readJsonBody(body, contentType)
      if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' && typeof id !== 'number')) {
        throw badRequest(
          'invalid_document_ids',
          'Invalid payload: expected an array of document ids (strings or integers)',
        )
      }
      return services.queue.enqueue({
        type: 'documentDeletion',
        indexUid: uid,
        operation: { kind: 'deleteDocuments', ids: ids as (string | number)[] },
        details: { providedIds: ids.length, deletedDocuments: null, originalFilter: null },
        ...metadata(query),
      })
    },
  },
  {
    method: 'POST',
    url: '/indexes/:indexUid/documents/delete',
    action: 'documents.delete',
    tag: 'Documents',
    summary: 'Delete the documents matching a filter: body `{ filter }` (a task)',
    status: 202,
    body: 'json',
    queryParams: ['customMetadata'],
    async handler({ params, query, body, contentType, services }) {
      const uid = checkIndexUid(params.indexUid)
      const input = readJsonBody(body, contentType)
      if (!isPlainObject(input) || input.filter === undefined) {
        throw badRequest('missing_document_filter', 'Missing field `filter`')
      }
      const filter = checkFilter(input.filter, 'invalid_document_filter')
      // A filter the index cannot evaluate is refused now rather than as a failed task.
      if (services.engine.hasIndex(uid)) await services.engine.index(uid).getDocuments({ filter, limit: 1 })
      return services.queue.enqueue({
        type: 'documentDeletion',
        indexUid: uid,
        operation: { kind: 'deleteByFilter', filter },
        details: { providedIds: 0, deletedDocuments: null, originalFilter: JSON.stringify(filter) },
        ...metadata(query),
      })
    },
  },
  {
    method: 'DELETE',
    url: '/indexes/:indexUid/documents',
    action: 'documents.delete',
    tag: 'Documents',
    summary: 'Delete every document of an index (a task)',
    status: 202,
    queryParams: ['customMetadata'],
    handler({ params, query, services }) {
      const uid = checkIndexUid(params.indexUid)
      return services.queue.enqueue({
        type: 'documentDeletion',
        indexUid: uid,
        operation: { kind: 'deleteAll' },
        details: { deletedDocuments: null },
        ...metadata(query),
      })
    },
  },
]

/** `?customMetadata=`: any string, kept on the task. */
function metadata(query: Record<string, string | undefined>): { customMetadata?: string } {
  return query.customMetadata === undefined ? {} : { customMetadata: query.customMetadata }
}

/**
 * `?writeConcern=`: `quorum` (the default) acknowledges a cluster write once a majority of every
 * shard it touches committed it; `async` once each shard leader's own log holds it durably, so
 * the tail may be lost with a shard leader (docs/sharded-indexes.md, "Write concern").
 */
function writeConcernParam(value: string | undefined): 'quorum' | 'async' {
  if (value === undefined || value === 'quorum') return 'quorum'
  if (value === 'async') return 'async'
  throw badRequest(
    'invalid_write_concern',
    `Invalid value in parameter \`writeConcern\`: expected \`quorum\` or \`async\`, got \`${value}\`.`,
  )
}

function booleanParam(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false') return false
  if (value === 'true') return true
  throw badRequest(
    'bad_request',
    `Invalid value in parameter \`${name}\`: could not parse \`${value}\` as a boolean.`,
  )
}

function addRoute(method: 'POST' | 'PUT', kind: 'replace' | 'update', summary: string): RouteSpec {
  return {
    method,
    url: '/indexes/:indexUid/documents',
    action: 'documents.add',
    tag: 'Documents',
    summary,
    status: 202,
    body: 'documents',
    queryParams: ['primaryKey', 'csvDelimiter', 'skipCreation', 'customMetadata', 'writeConcern'],
    async handler({ params, query, body, contentType, services }) {
      const uid = checkIndexUid(params.indexUid)
      const skipCreation = booleanParam(query.skipCreation, 'skipCreation')
      const writeConcern = writeConcernParam(query.writeConcern)
      const delimiter = query.csvDelimiter ?? ','
      if (delimiter.length !== 1)
        throw badRequest('invalid_document_csv_delimiter', '`csvDelimiter` must be one ASCII character')
      const { count, json } = await services.documents.parse(body, contentType, delimiter)
      const primaryKey =
        query.primaryKey === undefined || query.primaryKey === '' ? undefined : query.primaryKey
      return services.queue.enqueue({
        type: 'documentAdditionOrUpdate',
        indexUid: uid,
        operation: {
          kind: 'addDocuments',
          method: kind,
          payloadFile: '',
          documentCount: count,
          ...(primaryKey !== undefined ? { primaryKey } : {}),
          ...(skipCreation ? { skipCreation: true as const } : {}),
          ...(writeConcern === 'async' ? { writeConcern } : {}),
        },
        details: { receivedDocuments: count, indexedDocuments: null },
        documentsJson: json,
        ...metadata(query),
      })
    },
  }
}

async function fetchDocuments({ params, body, contentType, services }: RouteContext): Promise<unknown> {
  const index = services.engine.index(checkIndexUid(params.indexUid))
  const input = readJsonBody(body, contentType) ?? {}
  if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
  for (const key of Object.keys(input)) {
    if (!FETCH_FIELDS.includes(key)) {
      throw badRequest(
        'bad_request',
        `Unknown field \`${key}\`: expected one of ${FETCH_FIELDS.map((f) => `\`${f}\``).join(', ')}`,
      )
    }
  }
  const sort = stringArray(input.sort, 'invalid_document_sort', 'sort')
  const retrieveVectors = booleanField(
    input.retrieveVectors,
    'invalid_document_retrieve_vectors',
    'retrieveVectors',
  )
  const offset = nonNegativeInt(input.offset, 'invalid_document_offset', 'offset') ?? 0
  const limit = nonNegativeInt(input.limit, 'invalid_document_limit', 'limit') ?? 20
  const fields = stringArray(input.fields, 'invalid_document_fields', 'fields')
  const filter =
    input.filter === undefined || input.filter === null
      ? undefined
      : checkFilter(input.filter, 'invalid_document_filter')
  const ids = input.ids === undefined || input.ids === null ? undefined : input.ids
  if (ids !== undefined && !Array.isArray(ids))
    throw badRequest('invalid_document_ids', 'Invalid value at `.ids`: expected an array')
  // One engine answers `ids`, `filter` and `sort` together (engine document-list.ts); a cluster
  // merges its shards' shares (engine document-pages.ts).
  return index.getDocuments({
    offset,
    limit,
    retrieveVectors,
    ...(fields !== undefined ? { fields } : {}),
    ...(filter !== undefined ? { filter } : {}),
    ...(ids !== undefined ? { ids: ids as (string | number)[] } : {}),
    ...(sort !== undefined ? { sort } : {}),
  })
}

const FETCH_FIELDS = ['offset', 'limit', 'fields', 'filter', 'ids', 'sort', 'retrieveVectors']

/** A comma-separated query parameter as a list (empty items dropped). */
function splitList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
}

function booleanField(value: unknown, code: string, name: string): boolean {
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean')
    throw badRequest(code, `Invalid value type at \`.${name}\`: expected a boolean`)
  return value
}

/** `true`/`false` in a query string. */
function booleanQuery(value: string | undefined, code: string, name: string): boolean {
  if (value === undefined) return false
  if (value !== 'true' && value !== 'false') {
    throw badRequest(
      code,
      `Invalid value in parameter \`${name}\`: could not parse \`${value}\` as a boolean`,
    )
  }
  return value === 'true'
}

/** A filter is a string or an array of strings and arrays of strings. */
export function checkFilter(value: unknown, code: string): Filter {
  const isStringArray = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string')
  if (typeof value === 'string') return value
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || isStringArray(v)))
    return value as Filter
  throw badRequest(
    code,
    `Invalid syntax for the filter parameter: expected a string or an array of strings and arrays of strings, found ${JSON.stringify(value)}`,
  )
}
