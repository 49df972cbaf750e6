import type { ChaosClient, OpOutcome } from '@shoal/testkit/chaos'
import { startingNode } from './chaos-shards-http.ts'
import { MASTER_KEY } from './cluster-processes.ts'

/** What `GET /_cluster/settings` answers. */
export interface Settings {
  persistent: Record<string, string>
  metadata_version: number
}

/**
 * Each client starts at its own node and moves on only when a request was
 * certainly not received (connection refused): a write answered with an
 * error, or not answered in time, may still commit, so it ends as unknown.
 * A read that fails changed nothing.
 */
export class MetaClient implements ChaosClient {
  readonly #members: readonly { readonly http: number }[]
  readonly #timeoutMs: number
  #current: number

  constructor(members: readonly { readonly http: number }[], start: number, timeoutMs: number) {
    this.#members = members
    this.#current = start % members.length
    this.#timeoutMs = timeoutMs
  }

  async write(key: string, value: string): Promise<OpOutcome<void>> {
    const outcome = await this.#request('PUT', '/_cluster/settings', { persistent: { [key]: value } })
    if (outcome.status === 'ok' && outcome.value.status === 200) return { status: 'ok', value: undefined }
    this.#next()
    if (outcome.status !== 'ok') return outcome
    // Refused by a node still starting, before any handler ran: it certainly did not happen.
    const certain = startingNode(outcome.value.status, outcome.value.body)
    return { status: certain ? 'fail' : 'info', reason: describe(outcome.value) }
  }

  async read(key: string): Promise<OpOutcome<string | null>> {
    const outcome = await this.#request('GET', '/_cluster/settings?consistency=linearizable')
    if (outcome.status !== 'ok' || outcome.value.status !== 200) {
      this.#next()
      return { status: 'fail', reason: outcome.status === 'ok' ? describe(outcome.value) : outcome.reason }
    }
    const settings = outcome.value.body as Settings
    return { status: 'ok', value: settings.persistent[key] ?? null }
  }

  close(): void {}

  /** After a failed or unknown outcome the next operation tries another node (it may be cut off). */
  #next(): void {
    this.#current = (this.#current + 1) % this.#members.length
  }

  async #request(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<OpOutcome<{ status: number; body: unknown }>> {
    const deadline = Date.now() + this.#timeoutMs
    while (Date.now() < deadline) {
      const m = this.#members[this.#current] as { http: number }
      try {
        const response = await fetch(`http://127.0.0.1:${m.http}${route}`, {
          method,
          headers: {
            authorization: `Bearer ${MASTER_KEY}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        })
        const text = await response.text()
        let parsed: unknown = null
        try {
          parsed = text === '' ? null : JSON.parse(text)
        } catch {}
        return { status: 'ok', value: { status: response.status, body: parsed } }
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code
        if (code !== 'ECONNREFUSED') return { status: 'info', reason: code ?? 'timeout' }
        this.#next()
        await sleep(20)
      }
    }
    return { status: 'fail', reason: 'no node reachable' }
  }
}

function describe(response: { status: number; body: unknown }): string {
  const code = (response.body as { code?: unknown } | null)?.code
  return `${response.status} ${typeof code === 'string' ? code : ''}`.trim()
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
