import type { Action, Grant, KeyStore } from './api-keys.ts'
import type { ClusterRegionLink } from './cluster/cluster-region-link.ts'
import type { ClusterRuntime } from './cluster/runtime.ts'
import type { ServerConfig } from './config.ts'
import type { DocumentParser } from './document-parser.ts'
import type { EnginePort } from './engine-port.ts'
import { badRequest } from './errors.ts'
import type { ServerMetrics } from './metrics.ts'
import type { RegionRuntime } from './regions/region-runtime.ts'
import type { StandbyRuntime } from './standby/standby-runtime.ts'
import type { TaskQueuePort } from './task-queue.ts'
import type { WebhookRegistry } from './webhooks.ts'

/**
 * One HTTP route: the table of these drives both the fastify registration
 * and the OpenAPI description, so the two cannot drift apart.
 */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** fastify pattern, e.g. `/indexes/:indexUid/documents`. */
  url: string
  /** Action an API key needs; `null` for public routes. */
  action: Action | null
  tag: string
  summary: string
  /** Success status. @defaultValue 200 */
  status?: number
  /** What the body holds, for the OpenAPI description. */
  body?: 'json' | 'documents'
  /** Query parameters, for the OpenAPI description. */
  queryParams?: string[]
  handler(ctx: RouteContext): unknown
}

export interface Services {
  engine: EnginePort
  /** In a cluster, the cluster's task list; otherwise this node's queue. */
  queue: TaskQueuePort
  keys: KeyStore
  webhooks: WebhookRegistry
  metrics: ServerMetrics
  config: ServerConfig
  /** Parses documents bodies, large ones off the event loop. */
  documents: DocumentParser
  version: string
  /** The cluster member this node runs, once started; undefined on a standalone node. */
  cluster?: ClusterRuntime | undefined
  /** The hot standby link (primary or standby side), once started; undefined otherwise. */
  standby?: StandbyRuntime | undefined
  /** The link to other regions, once started; undefined when the node has none. */
  regions?: RegionRuntime | ClusterRegionLink | undefined
}

export interface RouteContext {
  params: Record<string, string>
  /** Query parameters; a parameter given twice is refused before the handler runs. */
  query: Record<string, string | undefined>
  /** The query string as sent (still URL-encoded), without the `?`. */
  rawQuery: string
  /** Raw body bytes (or undefined); routes read them with request-body.ts. */
  body: unknown
  contentType: string | undefined
  grant: Grant
  services: Services
}

/** A non-negative integer query parameter. */
export function intParam(value: string | undefined, code: string, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw badRequest(
      code,
      `Invalid value in parameter \`${name}\`: could not parse \`${value}\` as a positive integer`,
    )
  }
  return parsed
}

/** A comma-separated list query parameter (`*` or absent: no restriction). */
export function listParam(value: string | undefined): string[] | undefined {
  if (value === undefined || value === '' || value === '*') return undefined
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
}

export function nonNegativeInt(value: unknown, code: string, field: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw badRequest(
      code,
      `Invalid value at \`.${field}\`: expected a positive integer, but found ${JSON.stringify(value)}`,
    )
  }
  return value
}

export function stringArray(value: unknown, code: string, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw badRequest(
      code,
      `Invalid value type at \`.${field}\`: expected an array of strings, but found ${JSON.stringify(value)}`,
    )
  }
  return value as string[]
}

export function checkIndexUid(uid: unknown): string {
  if (typeof uid !== 'string' || !/^[A-Za-z0-9_-]{1,400}$/.test(uid)) {
    throw badRequest(
      'invalid_index_uid',
      `\`${String(uid)}\` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.`,
    )
  }
  return uid
}

/** A handler result sent as is with its own content type (metrics text, the dashboard's files). */
export class RawBody {
  readonly contentType: string
  readonly payload: string | Buffer
  /** Further response headers (a Content-Security-Policy, caching). */
  readonly headers: Readonly<Record<string, string>>

  constructor(contentType: string, payload: string | Buffer, headers: Readonly<Record<string, string>> = {}) {
    this.contentType = contentType
    this.payload = payload
    this.headers = headers
  }
}

/** A JSON result sent with another status than the route's usual one (a 408 from a wait that timed out). */
export class RawStatus {
  readonly status: number
  readonly body: unknown

  constructor(status: number, body: unknown) {
    this.status = status
    this.body = body
  }
}
