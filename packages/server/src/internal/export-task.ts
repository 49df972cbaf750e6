/**
 * Meilisearch's `POST /export`: copy indexes (settings and documents, vectors included) to another
 * instance over its HTTP API, as a task. For each local index whose uid matches a pattern of
 * `indexes` (`*` anywhere; all indexes when absent), the first matching pattern's options apply:
 *
 *   1. the remote index is created with the local primary key when it does not exist;
 *   2. the local settings are sent when the index was created, or with `overrideSettings`;
 *   3. the documents passing `filter` are sent in `POST /indexes/{uid}/documents` bodies of at
 *      most `payloadSize` bytes (a document larger than that goes alone).
 *
 * The task succeeds only once every remote task it enqueued has succeeded; the first remote
 * failure fails it (`export_remote_failed`, naming the remote task or the HTTP answer). On a
 * standalone node the task queue runs one task at a time, so the local indexes do not change
 * while they are read; on a cluster each shard is read from one image (cluster/cluster-dump.ts).
 */

import { matchesPattern } from '@shoal/engine'
import type { Filter } from './engine-port.ts'
import { ApiError, badRequest } from './errors.ts'
import { HttpError, NodeClient } from './http-client.ts'
import type { IndexSource } from './index-source.ts'
import { isPlainObject } from './request-body.ts'
import { checkFilter } from './routes-documents.ts'

export interface ExportIndexOptions {
  filter: Filter | null
  overrideSettings: boolean
}

/** The stored operation of an export task. */
export interface ExportRequest {
  url: string
  apiKey: string | null
  /** Bytes per documents request. */
  payloadSize: number
  /** The text the request gave, reported in the task details; null for the default. */
  payloadSizeText: string | null
  indexes: Record<string, ExportIndexOptions>
}

/** Meilisearch's default payload size: 50 MiB. */
const DEFAULT_PAYLOAD_BYTES = 50 * 1024 * 1024
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
}
const DOCUMENTS_PER_READ = 1000

export function parseExportRequest(input: unknown): ExportRequest {
  if (!isPlainObject(input)) throw badRequest('bad_request', 'Invalid export request: expected a JSON object')
  for (const key of Object.keys(input)) {
    if (!['url', 'apiKey', 'payloadSize', 'indexes'].includes(key))
      throw badRequest('bad_request', `Unknown field \`${key}\` in the export request`)
  }
  const { url, apiKey, payloadSize, indexes } = input
  if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+/.test(url))
    throw badRequest('invalid_export_url', 'Invalid value at `.url`: expected an http(s) URL')
  if (apiKey !== undefined && apiKey !== null && typeof apiKey !== 'string')
    throw badRequest('invalid_export_api_key', 'Invalid value type at `.apiKey`: expected a string')
  return {
    url: url.replace(/\/+$/, ''),
    apiKey: typeof apiKey === 'string' ? apiKey : null,
    payloadSize: payloadBytes(payloadSize),
    payloadSizeText: payloadSize === undefined || payloadSize === null ? null : String(payloadSize),
    indexes: indexOptions(indexes),
  }
}

function payloadBytes(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_PAYLOAD_BYTES
  const fail = () =>
    badRequest(
      'invalid_export_payload_size',
      'Invalid value at `.payloadSize`: expected a size such as `50 MiB`, `512 KB` or a number of bytes',
    )
  let bytes: number
  if (typeof value === 'number') bytes = value
  else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)
    const unit = UNITS[(match?.[2] ?? '').toLowerCase() || 'b']
    if (match === null || unit === undefined) throw fail()
    bytes = Math.floor(Number(match[1]) * unit)
  } else throw fail()
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw fail()
  return bytes
}

function indexOptions(value: unknown): Record<string, ExportIndexOptions> {
  if (value === undefined || value === null) return { '*': { filter: null, overrideSettings: false } }
  if (!isPlainObject(value))
    throw badRequest(
      'invalid_export_indexes_patterns',
      'Invalid value at `.indexes`: expected an object of patterns',
    )
  const out: Record<string, ExportIndexOptions> = {}
  for (const [pattern, options] of Object.entries(value)) {
    if (!/^[A-Za-z0-9_*-]{1,400}$/.test(pattern))
      throw badRequest(
        'invalid_export_indexes_patterns',
        `Invalid index pattern \`${pattern}\` at \`.indexes\``,
      )
    const given = options ?? {}
    if (!isPlainObject(given))
      throw badRequest(
        'invalid_export_indexes_patterns',
        `Invalid value at \`.indexes.${pattern}\`: expected an object`,
      )
    for (const key of Object.keys(given)) {
      if (key !== 'filter' && key !== 'overrideSettings')
        throw badRequest('bad_request', `Unknown field \`${key}\` at \`.indexes.${pattern}\``)
    }
    const override = given.overrideSettings ?? false
    if (typeof override !== 'boolean')
      throw badRequest(
        'invalid_export_index_override_settings',
        `Invalid value type at \`.indexes.${pattern}.overrideSettings\`: expected a boolean`,
      )
    const filter =
      given.filter === undefined || given.filter === null
        ? null
        : checkFilter(given.filter, 'invalid_export_index_filter')
    out[pattern] = { filter, overrideSettings: override }
  }
  return out
}

/** The task details: the request, the API key masked. */
export function exportDetails(request: ExportRequest): Record<string, unknown> {
  return {
    url: request.url,
    apiKey: request.apiKey === null ? null : 'XXX...',
    payloadSize: request.payloadSizeText,
    indexes: request.indexes,
  }
}

/**
 * Runs an export from `source` (a standalone engine, or a cluster's shards read one image at a
 * time); returns the task details with the documents sent per index.
 */
export async function runExport(
  source: IndexSource,
  request: ExportRequest,
): Promise<Record<string, unknown>> {
  const remote = new NodeClient(request.url, request.apiKey ?? undefined)
  const sent: Record<string, { documents: number }> = {}
  const taskUids: number[] = []
  for (const info of await source.indexes()) {
    const pattern = Object.keys(request.indexes).find((p) => matchesPattern(p, info.uid))
    if (pattern === undefined) continue
    const options = request.indexes[pattern]!
    const created = await ensureRemoteIndex(remote, info.uid, info.primaryKey)
    let documents = 0
    let batch: string[] = []
    let batchBytes = 2
    const flush = async () => {
      if (batch.length === 0) return
      taskUids.push(await enqueue(remote, 'POST', `/indexes/${info.uid}/documents`, `[${batch.join(',')}]`))
      batch = []
      batchBytes = 2
    }
    await source.readParts(info.uid, async (part, position) => {
      if (position === 0 && (created || options.overrideSettings))
        taskUids.push(await enqueue(remote, 'PATCH', `/indexes/${info.uid}/settings`, await part.settings()))
      for (let offset = 0; ; offset += DOCUMENTS_PER_READ) {
        const page = await part.documents({
          offset,
          limit: DOCUMENTS_PER_READ,
          ...(options.filter === null ? {} : { filter: options.filter }),
        })
        for (const doc of page) {
          const text = JSON.stringify(doc)
          const bytes = Buffer.byteLength(text) + 1
          if (batch.length > 0 && batchBytes + bytes > request.payloadSize) await flush()
          batch.push(text)
          batchBytes += bytes
          documents++
        }
        if (page.length < DOCUMENTS_PER_READ) break
      }
    })
    await flush()
    sent[info.uid] = { documents }
  }
  await confirm(remote, taskUids)
  return { ...exportDetails(request), exported: sent }
}

/** Creates the remote index unless it exists; true when it was created. */
async function ensureRemoteIndex(
  remote: NodeClient,
  uid: string,
  primaryKey: string | null,
): Promise<boolean> {
  try {
    await remote.request('GET', `/indexes/${uid}`)
    return false
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 404 && error.code === 'index_not_found'))
      await call(() => Promise.reject(error))
  }
  const task = await enqueue(remote, 'POST', '/indexes', { uid, primaryKey })
  await confirm(remote, [task])
  return true
}

async function enqueue(remote: NodeClient, method: string, path: string, body: unknown): Promise<number> {
  const answer = await call(() => remote.request<{ taskUid: number }>(method, path, body))
  return answer.taskUid
}

async function confirm(remote: NodeClient, uids: number[]): Promise<void> {
  if (uids.length === 0) return
  const tasks = await call(() => remote.waitForTasks(uids, 20))
  for (const uid of uids) {
    const task = tasks.get(uid)!
    if (task.status !== 'succeeded') {
      throw remoteFailure(
        `the remote task ${uid} (${task.type}) ${task.status}${task.error === null ? '' : `: ${task.error.code}: ${task.error.message}`}`,
      )
    }
  }
}

/** A remote HTTP failure as this task's error. */
async function call<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request()
  } catch (error) {
    if (error instanceof HttpError)
      throw remoteFailure(
        `the remote answered ${error.status === 0 ? 'nothing' : error.status} (${error.code ?? 'no code'}): ${error.message}`,
      )
    throw error
  }
}

function remoteFailure(why: string): ApiError {
  return new ApiError(502, 'export_remote_failed', `The export failed: ${why}.`, 'system')
}
