/**
 * Calls `rest` embedders over HTTP: the JSON request built from the embedder's `request`
 * template, the vectors read through its `response` template (both in @shoal/engine).
 *
 * - Batches: a request template with `"{{..}}"` sends up to `batchSize` texts per request;
 *   otherwise one text per request, `concurrency` requests at a time.
 * - Each request is bounded by `timeoutMs`. A timeout, a network error, a 429 or a 5xx answer is
 *   tried again up to `retries` times, `backoffMs · 2^attempt` apart; any other answer fails at once.
 * - Failures are `EmbeddingError`s (`vector_embedding_error`), whose message names the embedder
 *   and the URL without its query string, and never holds the `apiKey`.
 * - Query texts go through a bounded LRU cache (`queryCacheEntries`), keyed by everything that
 *   decides the vector (not the key).
 */

import {
  type RestEmbedderSettings,
  requestRepeats,
  restRequestBody,
  restResponseEmbeddings,
} from '@shoal/engine'
import { ApiError } from './errors.ts'

export interface EmbedderClientOptions {
  /** Bound on one HTTP request to an embedder. @defaultValue 10_000 */
  timeoutMs: number
  /** Further tries of a request that timed out, could not connect, or got a 429 or 5xx. @defaultValue 3 */
  retries: number
  /** Wait before the first retry; doubled for each next one. @defaultValue 200 */
  backoffMs: number
  /** Texts per request when the request template batches (`"{{..}}"`). @defaultValue 32 */
  batchSize: number
  /** Requests under way at once for one embedding call. @defaultValue 4 */
  concurrency: number
  /** Query embeddings kept (least recently used dropped first); 0: none. @defaultValue 1000 */
  queryCacheEntries: number
}

export const EMBEDDER_CLIENT_DEFAULTS: Readonly<EmbedderClientOptions> = Object.freeze({
  timeoutMs: 10_000,
  retries: 3,
  backoffMs: 200,
  batchSize: 32,
  concurrency: 4,
  queryCacheEntries: 1000,
})

/** An embedder call failed (Meilisearch's `vector_embedding_error`). */
export class EmbeddingError extends ApiError {
  constructor(message: string) {
    super(400, 'vector_embedding_error', message)
  }
}

/** A failure worth another try, and the reason as text. */
class Transient extends Error {}

export class EmbedderClient {
  readonly options: Readonly<EmbedderClientOptions>
  readonly #cache = new Map<string, number[]>()
  /** Requests sent (every try counts), for tests and metrics. */
  requests = 0

  constructor(options: Partial<EmbedderClientOptions> = {}) {
    this.options = Object.freeze({ ...EMBEDDER_CLIENT_DEFAULTS, ...options })
  }

  /**
   * The vectors of `texts` in order. `dimensions` checks every vector's length (null: any
   * length, for finding an embedder's dimensions).
   */
  async embed(
    name: string,
    embedder: RestEmbedderSettings,
    texts: readonly string[],
    dimensions: number | null = embedder.dimensions,
    signal?: AbortSignal,
  ): Promise<number[][]> {
    const size = requestRepeats(embedder.request) ? this.options.batchSize : 1
    const chunks: string[][] = []
    for (let i = 0; i < texts.length; i += size) chunks.push(texts.slice(i, i + size))
    const results: number[][][] = new Array(chunks.length)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const at = next++
        results[at] = await this.#request(name, embedder, chunks[at]!, dimensions, signal)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, chunks.length) }, worker))
    return results.flat()
  }

  /** The vector of a query text, from the cache when it was asked for lately. */
  async embedQuery(name: string, embedder: RestEmbedderSettings, text: string): Promise<number[]> {
    const { url, request, response, headers, dimensions } = embedder
    const key = `${JSON.stringify([url, request, response, headers, dimensions])}\u0000${text}`
    const cached = this.#cache.get(key)
    if (cached !== undefined) {
      // Most recently used last: Map keeps insertion order.
      this.#cache.delete(key)
      this.#cache.set(key, cached)
      return cached
    }
    const [vector] = await this.embed(name, embedder, [text])
    if (this.options.queryCacheEntries > 0) {
      this.#cache.set(key, vector!)
      if (this.#cache.size > this.options.queryCacheEntries)
        this.#cache.delete(this.#cache.keys().next().value!)
    }
    return vector!
  }

  async #request(
    name: string,
    embedder: RestEmbedderSettings,
    texts: string[],
    dimensions: number | null,
    signal: AbortSignal | undefined,
  ): Promise<number[][]> {
    const body = JSON.stringify(restRequestBody(embedder.request, texts))
    const headers: Record<string, string> = { ...embedder.headers, 'content-type': 'application/json' }
    if (embedder.apiKey !== undefined) headers.authorization = `Bearer ${embedder.apiKey}`
    const where = describeUrl(embedder.url)
    let reason = ''
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await sleep(this.options.backoffMs * 2 ** (attempt - 1), signal)
      signal?.throwIfAborted()
      try {
        const vectors = await this.#send(embedder, body, headers, texts.length, signal)
        const wrong = dimensions === null ? undefined : vectors.find((v) => v.length !== dimensions)
        if (wrong !== undefined) {
          throw new EmbeddingError(
            `Embedder \`${name}\` (${where}) answered a vector of ${wrong.length} dimensions, but it is configured with ${dimensions}.`,
          )
        }
        return vectors
      } catch (error) {
        if (!(error instanceof Transient)) {
          if (error instanceof EmbeddingError) throw error
          if (signal?.aborted) throw error
          throw this.#fail(name, where, scrub((error as Error).message, embedder.apiKey), attempt + 1)
        }
        reason = scrub(error.message, embedder.apiKey)
      }
    }
    throw this.#fail(name, where, reason, this.options.retries + 1)
  }

  /** One POST; throws Transient for what another try may fix, Error for what it will not. */
  async #send(
    embedder: RestEmbedderSettings,
    body: string,
    headers: Record<string, string>,
    count: number,
    signal: AbortSignal | undefined,
  ): Promise<number[][]> {
    this.requests++
    const timeout = AbortSignal.timeout(this.options.timeoutMs)
    let answer: Response
    let text: string
    try {
      answer = await fetch(embedder.url, {
        method: 'POST',
        headers,
        body,
        signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      })
      text = await answer.text()
    } catch (error) {
      if (timeout.aborted) throw new Transient(`no answer within ${this.options.timeoutMs} ms`)
      if (signal?.aborted) throw error
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      throw new Transient(`cannot connect (${cause?.code ?? cause?.message ?? (error as Error).message})`)
    }
    if (answer.status === 429 || answer.status >= 500) {
      throw new Transient(`answered ${answer.status}: ${preview(text)}`)
    }
    if (answer.status < 200 || answer.status > 299)
      throw new Error(`answered ${answer.status}: ${preview(text)}`)
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new Error(`answered something that is not JSON: ${preview(text)}`)
    }
    const vectors = restResponseEmbeddings(embedder.response, json, count)
    if (typeof vectors === 'string')
      throw new Error(`answer does not fit the \`response\` template: ${vectors}`)
    return vectors
  }

  #fail(name: string, where: string, reason: string, attempts: number): EmbeddingError {
    const tries = attempts === 1 ? '' : ` (after ${attempts} attempts)`
    return new EmbeddingError(
      `Error while embedding with embedder \`${name}\` (${where}): ${reason}${tries}.`,
    )
  }
}

/** The URL without query string or credentials: either may hold a secret. */
function describeUrl(text: string): string {
  const url = new URL(text)
  return `${url.protocol}//${url.host}${url.pathname}`
}

/** `text` with every occurrence of the key masked (an error page may echo the request). */
function scrub(text: string, apiKey: string | undefined): string {
  return apiKey === undefined || apiKey === '' ? text : text.split(apiKey).join('[apiKey]')
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}
