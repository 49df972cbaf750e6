import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { ApiError, badRequest } from './errors.ts'
import { isPlainObject } from './request-body.ts'
import { writeFileDurably } from './task-log.ts'
import type { Task } from './task-types.ts'

/**
 * Webhooks as Meilisearch has them: URLs (with headers) that are sent the
 * tasks of every batch once it has finished, one task per line
 * (`application/x-ndjson`). The list is one JSON file written atomically.
 *
 * Delivery runs beside the task queue, never in its way: each batch is
 * posted to each webhook, retried on a network error or a 5xx/429 answer
 * (RETRY_DELAYS_MS between attempts), then given up and logged. Deliveries
 * are not durable: a batch finished just before a crash may never be sent.
 */

export interface Webhook {
  uuid: string
  isEditable: boolean
  url: string
  headers: Record<string, string>
}

/** Meilisearch's limits. */
const MAX_WEBHOOKS = 20
const MAX_HEADERS = 200
/** Waits before the second, third and fourth attempt. */
export const RETRY_DELAYS_MS = [100, 1000, 5000]
const ATTEMPT_TIMEOUT_MS = 10_000

function checkUrl(value: unknown): string {
  const fail = () => badRequest('invalid_webhook_url', `Invalid value at \`.url\`: expected an http(s) URL`)
  if (typeof value !== 'string') throw fail()
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw fail()
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail()
  return value
}

/** Applies a headers patch: a string sets a header, `null` removes it. */
function patchHeaders(current: Record<string, string>, value: unknown): Record<string, string> {
  if (value === undefined) return current
  if (value === null) return {}
  if (!isPlainObject(value)) {
    throw badRequest('invalid_webhook_headers', 'Invalid value at `.headers`: expected an object of strings')
  }
  const next = { ...current }
  for (const [name, header] of Object.entries(value)) {
    if (header === null) delete next[name]
    else if (typeof header === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) next[name] = header
    else throw badRequest('invalid_webhook_headers', `Invalid header \`${name}\` at \`.headers\``)
  }
  if (Object.keys(next).length > MAX_HEADERS) {
    throw badRequest('too_many_webhook_headers', `A webhook may have at most ${MAX_HEADERS} headers.`)
  }
  return next
}

function checkFields(input: Record<string, unknown>): void {
  for (const key of Object.keys(input)) {
    if (key !== 'url' && key !== 'headers') {
      throw badRequest('bad_request', `Unknown field \`${key}\`: expected one of \`url\`, \`headers\``)
    }
  }
}

/** A new webhook from a `POST /webhooks` body, when `count` webhooks exist already. */
export function newWebhook(input: unknown, count: number): Webhook {
  if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
  checkFields(input)
  if (input.url === undefined) throw badRequest('invalid_webhook_url', 'Missing field `url`')
  if (count >= MAX_WEBHOOKS) {
    throw badRequest('too_many_webhooks', `There can be at most ${MAX_WEBHOOKS} webhooks.`)
  }
  return {
    uuid: randomUUID(),
    isEditable: true,
    url: checkUrl(input.url),
    headers: patchHeaders({}, input.headers),
  }
}

/** `hook` changed by a `PATCH /webhooks/{uuid}` body. */
export function changedWebhook(hook: Webhook, input: unknown): Webhook {
  if (!isPlainObject(input)) throw badRequest('bad_request', 'Expected a JSON object')
  checkFields(input)
  return {
    ...hook,
    url: input.url === undefined ? hook.url : checkUrl(input.url),
    headers: patchHeaders(hook.headers, input.headers),
  }
}

/** The webhook, or Meilisearch's 404. */
export function found(hook: Webhook | undefined, uuid: string): Webhook {
  if (hook === undefined) throw new ApiError(404, 'webhook_not_found', `Webhook \`${uuid}\` not found.`)
  return hook
}

/** Where webhooks are kept: a file on a standalone node, the metadata on a cluster node. */
export interface WebhookRegistry {
  /** Every webhook with its real headers (for delivery). */
  all(): Webhook[]
  list(): { results: Webhook[] } | Promise<{ results: Webhook[] }>
  get(uuid: string): Webhook | Promise<Webhook>
  create(input: unknown): Promise<Webhook>
  update(uuid: string, input: unknown): Promise<Webhook>
  delete(uuid: string): Promise<void>
}

/** What the API shows: an `authorization` header's value is never sent back. */
export function redacted(webhook: Webhook): Webhook {
  const headers = Object.fromEntries(
    Object.entries(webhook.headers).map(([name, value]) => [
      name,
      name.toLowerCase() === 'authorization' ? `${value.slice(0, 4)}…` : value,
    ]),
  )
  return { ...webhook, headers }
}

export class WebhookStore implements WebhookRegistry {
  readonly #file: string
  readonly #hooks = new Map<string, Webhook>()

  private constructor(file: string) {
    this.#file = file
  }

  static async open(file: string): Promise<WebhookStore> {
    const store = new WebhookStore(file)
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null
      throw error
    })
    if (text !== null) for (const hook of JSON.parse(text) as Webhook[]) store.#hooks.set(hook.uuid, hook)
    return store
  }

  /** Every webhook with its real headers (for delivery). */
  all(): Webhook[] {
    return [...this.#hooks.values()]
  }

  list(): { results: Webhook[] } {
    return { results: this.all().map(redacted) }
  }

  get(uuid: string): Webhook {
    return redacted(this.#find(uuid))
  }

  async create(input: unknown): Promise<Webhook> {
    const hook = newWebhook(input, this.#hooks.size)
    this.#hooks.set(hook.uuid, hook)
    await this.#persist()
    return redacted(hook)
  }

  async update(uuid: string, input: unknown): Promise<Webhook> {
    const next = changedWebhook(this.#find(uuid), input)
    this.#hooks.set(uuid, next)
    await this.#persist()
    return redacted(next)
  }

  async delete(uuid: string): Promise<void> {
    this.#find(uuid)
    this.#hooks.delete(uuid)
    await this.#persist()
  }

  #find(uuid: string): Webhook {
    return found(this.#hooks.get(uuid), uuid)
  }

  async #persist(): Promise<void> {
    await writeFileDurably(this.#file, JSON.stringify(this.all(), null, 2))
  }
}

/** Posts finished batches to every webhook, with retries; `close` abandons what is still pending. */
export class WebhookDispatcher {
  readonly #store: Pick<WebhookRegistry, 'all'>
  readonly #onFailure: (url: string, reason: string) => void
  readonly #stop = new AbortController()
  readonly #pending = new Set<Promise<void>>()

  constructor(store: Pick<WebhookRegistry, 'all'>, onFailure: (url: string, reason: string) => void) {
    this.#store = store
    this.#onFailure = onFailure
  }

  /** Called once per finished batch, with its tasks. */
  batchFinished(tasks: Task[]): void {
    if (tasks.length === 0 || this.#stop.signal.aborted) return
    const body = `${tasks.map((task) => JSON.stringify(task)).join('\n')}\n`
    for (const hook of this.#store.all()) {
      const delivery = this.#deliver(hook, body).finally(() => this.#pending.delete(delivery))
      this.#pending.add(delivery)
    }
  }

  /** Resolves once every delivery started so far has succeeded or given up. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending])
  }

  async close(): Promise<void> {
    this.#stop.abort()
    await this.idle()
  }

  async #deliver(hook: Webhook, body: string): Promise<void> {
    let reason = ''
    for (let attempt = 0; attempt <= RETRY_DELAYS_MS.length; attempt++) {
      if (attempt > 0 && !(await this.#sleep(RETRY_DELAYS_MS[attempt - 1]!))) return
      try {
        const answer = await fetch(hook.url, {
          method: 'POST',
          headers: { ...hook.headers, 'content-type': 'application/x-ndjson' },
          body,
          signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
        })
        await answer.arrayBuffer().catch(() => undefined)
        if (answer.ok) return
        reason = `HTTP ${answer.status}`
        // A client error other than 429 will not change on a retry.
        if (answer.status < 500 && answer.status !== 429) break
      } catch (error) {
        if (this.#stop.signal.aborted) return
        reason = error instanceof Error ? error.message : String(error)
      }
    }
    this.#onFailure(hook.url, reason)
  }

  /** Waits `ms`; false when the dispatcher closed meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.#stop.signal.aborted) return resolve(false)
      const timer = setTimeout(() => resolve(true), ms)
      this.#stop.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve(false)
      })
    })
  }
}
