import type { ChaosClient, OpOutcome } from '@shoal/testkit/chaos'
import {
  describeOutcome,
  type HttpLog,
  type NodeAddress,
  request,
  sleep,
  startingNode,
} from './chaos-shards-http.ts'

/**
 * The marker field of a document holding `value`: one of three groups, a
 * function of the value alone, so a filtered search's expected hits follow
 * from the documents' values.
 */
export function markerOf(value: string): string {
  let sum = 0
  for (let i = 0; i < value.length; i++) sum += value.charCodeAt(i)
  return `g${sum % 3}`
}

export const MARKERS = ['g0', 'g1', 'g2'] as const

export interface ShardsClientOptions {
  uid: string
  /** Give up on an operation after this long (a write's outcome is then unknown). */
  timeoutMs: number
  log: HttpLog
}

/**
 * Writes and reads documents of a sharded index through the HTTP API. A write
 * replaces the document `{ id: key, value, marker }` (`POST
 * /indexes/{uid}/documents`): acknowledged when its task reaches `succeeded`,
 * failed when it reaches `failed` (a failed task changes nothing) or when the
 * write was refused before a task existed (a 4xx, or a node still starting), unknown otherwise (a 503, a
 * time-out, a lost connection, a task still running at the deadline). The
 * task is polled through every node in turn, since a node cut off from the
 * metadata leader sees no progress. A read is `GET
 * /indexes/{uid}/documents/{key}`, served by the shard's leader (strong:
 * read-your-writes); a 404 `document_not_found` reads as never written.
 *
 * Each client starts at its own node and moves to the next one after a
 * failure or an unknown outcome.
 */
export class ShardsClient implements ChaosClient {
  readonly #nodes: readonly NodeAddress[]
  readonly #options: ShardsClientOptions
  #current: number

  constructor(nodes: readonly NodeAddress[], start: number, options: ShardsClientOptions) {
    this.#nodes = nodes
    this.#current = start % nodes.length
    this.#options = options
  }

  async write(key: string, value: string): Promise<OpOutcome<void>> {
    const deadline = Date.now() + this.#options.timeoutMs
    const document = { id: key, value, marker: markerOf(value) }
    const sent = await this.#send('POST', `/indexes/${this.#options.uid}/documents`, [document], deadline)
    if (sent === null) return { status: 'fail', reason: 'no node reachable' }
    if (sent.kind !== 'answer') {
      this.#next()
      return { status: 'info', reason: describeOutcome(sent) }
    }
    if (sent.status !== 202) {
      this.#next()
      const refused =
        (sent.status >= 400 && sent.status < 500 && sent.status !== 408 && sent.status !== 429) ||
        startingNode(sent.status, sent.body)
      // An unavailable cluster is not asked again at once (the workload's pause is short).
      if (sent.status === 503) await sleep(100)
      return { status: refused ? 'fail' : 'info', reason: describeOutcome(sent) }
    }
    const taskUid = (sent.body as { taskUid: number }).taskUid
    let status = 'enqueued'
    for (let turn = this.#current; Date.now() < deadline; turn++) {
      const node = this.#nodes[turn % this.#nodes.length] as NodeAddress
      const polled = await request(
        this.#options.log,
        node,
        'GET',
        `/tasks/${taskUid}`,
        undefined,
        Math.min(2000, deadline - Date.now()),
      )
      if (polled.kind === 'answer' && polled.status === 200) {
        const task = polled.body as { status: string; error: { code?: string } | null }
        status = task.status
        if (status === 'succeeded') return { status: 'ok', value: undefined }
        if (status === 'failed' || status === 'canceled') {
          this.#next()
          return { status: 'fail', reason: `task ${status} ${task.error?.code ?? ''}`.trim() }
        }
      }
      await sleep(40)
    }
    this.#next()
    return { status: 'info', reason: `task still ${status} at the deadline` }
  }

  async read(key: string): Promise<OpOutcome<string | null>> {
    const deadline = Date.now() + this.#options.timeoutMs
    const got = await this.#send('GET', `/indexes/${this.#options.uid}/documents/${key}`, undefined, deadline)
    if (got?.kind === 'answer') {
      if (got.status === 200) return { status: 'ok', value: (got.body as { value: string }).value }
      if (got.status === 404 && (got.body as { code?: string } | null)?.code === 'document_not_found')
        return { status: 'ok', value: null }
    }
    this.#next()
    if (got?.kind === 'answer' && got.status === 503) await sleep(100)
    return { status: 'fail', reason: got === null ? 'no node reachable' : describeOutcome(got) }
  }

  close(): void {}

  #next(): void {
    this.#current = (this.#current + 1) % this.#nodes.length
  }

  /** Sends to the current node, moving on while connections are refused (never received); null at the deadline. */
  async #send(method: string, route: string, body: unknown, deadline: number) {
    while (Date.now() < deadline) {
      const node = this.#nodes[this.#current] as NodeAddress
      const outcome = await request(this.#options.log, node, method, route, body, deadline - Date.now())
      if (outcome.kind !== 'refused') return outcome
      this.#next()
      await sleep(20)
    }
    return null
  }
}
