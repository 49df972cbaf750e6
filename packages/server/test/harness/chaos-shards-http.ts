import { MASTER_KEY } from './cluster-processes.ts'

/**
 * What became of one HTTP request to a node:
 * - `answer`: a status and its parsed JSON body (null when empty or not JSON);
 * - `refused`: the connection was refused, so the node certainly never saw it;
 * - `lost`: sent (or maybe sent) without an answer: a time-out or a reset.
 */
export type HttpOutcome =
  | { kind: 'answer'; status: number; body: unknown }
  | { kind: 'refused' }
  | { kind: 'lost'; reason: string }

/** A server error seen by any request of the run: every one is a finding. */
export interface ServerError {
  node: string
  method: string
  route: string
  status: number
  body: string
}

/**
 * Every answer of every request a run sends (workload, probes, the system's
 * own polling), tallied as `STATUS code`, with the server errors (5xx other
 * than 503, and than 507 `no_space_left_on_device` from a full disk) kept for
 * the report: no request may answer 500.
 */
export class HttpLog {
  readonly tally = new Map<string, number>()
  readonly serverErrors: ServerError[] = []
  requests = 0

  record(node: string, method: string, route: string, outcome: HttpOutcome): void {
    this.requests++
    const key =
      outcome.kind === 'answer' ? `${outcome.status} ${errorCode(outcome.body) ?? ''}`.trim() : outcome.kind
    this.tally.set(key, (this.tally.get(key) ?? 0) + 1)
    const expected =
      outcome.kind === 'answer' &&
      (outcome.status === 503 ||
        (outcome.status === 507 && errorCode(outcome.body) === 'no_space_left_on_device'))
    if (outcome.kind === 'answer' && outcome.status >= 500 && !expected)
      this.serverErrors.push({
        node,
        method,
        route,
        status: outcome.status,
        body: JSON.stringify(outcome.body).slice(0, 300),
      })
  }
}

/** The `code` of a Meilisearch-style error body, if it has one. */
export function errorCode(body: unknown): string | undefined {
  const code = (body as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

export interface NodeAddress {
  name: string
  http: number
}

/** One authenticated JSON request to `node`, recorded in `log`. */
export async function request(
  log: HttpLog,
  node: NodeAddress,
  method: string,
  route: string,
  body: unknown,
  timeoutMs: number,
): Promise<HttpOutcome> {
  let outcome: HttpOutcome
  try {
    const response = await fetch(`http://127.0.0.1:${node.http}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${MASTER_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
    })
    const text = await response.text()
    let parsed: unknown = null
    try {
      parsed = text === '' ? null : JSON.parse(text)
    } catch {}
    outcome = { kind: 'answer', status: response.status, body: parsed }
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code
    outcome =
      code === 'ECONNREFUSED'
        ? { kind: 'refused' }
        : { kind: 'lost', reason: code ?? (error as Error).name ?? 'error' }
  }
  log.record(node.name, method, route, outcome)
  return outcome
}

/**
 * A node that has not rejoined its cluster yet refuses every request before
 * any handler runs (503 `cluster_unavailable`, "This node is starting…"), so
 * a write it refused certainly did not happen; other 503s may follow a commit.
 */
export function startingNode(status: number, body: unknown): boolean {
  const message = (body as { message?: unknown } | null)?.message
  return status === 503 && typeof message === 'string' && message.startsWith('This node is starting')
}

export function describeOutcome(outcome: HttpOutcome): string {
  if (outcome.kind === 'answer') return `${outcome.status} ${errorCode(outcome.body) ?? ''}`.trim()
  return outcome.kind === 'refused' ? 'connection refused' : outcome.reason
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
