/**
 * The CLI's small HTTP client for a running node (import, dump, restore).
 * Errors carry the server's `{ message, code }`.
 */

export class HttpError extends Error {
  override readonly name = 'HttpError'
  readonly status: number
  readonly code: string | undefined

  constructor(status: number, code: string | undefined, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export interface TaskView {
  uid: number
  status: string
  type: string
  indexUid: string | null
  details: Record<string, unknown> | null
  error: { message: string; code: string } | null
}

export class NodeClient {
  readonly baseUrl: string
  private readonly apiKey: string | undefined
  private readonly extraHeaders: Record<string, string>

  constructor(baseUrl: string, apiKey: string | undefined, extraHeaders: Record<string, string> = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    this.apiKey = apiKey
    this.extraHeaders = extraHeaders
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const headers: Record<string, string> = { ...this.extraHeaders }
    if (this.apiKey !== undefined && this.apiKey !== '') headers.authorization = `Bearer ${this.apiKey}`
    let payload: string | undefined
    if (body !== undefined) {
      headers['content-type'] = contentType
      payload = typeof body === 'string' ? body : JSON.stringify(body)
    }
    let response: Response
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
      })
    } catch (error) {
      throw new HttpError(0, 'unreachable', `cannot reach ${this.baseUrl}: ${(error as Error).message}`)
    }
    const text = await response.text()
    const parsed = text === '' ? undefined : (JSON.parse(text) as unknown)
    if (!response.ok) {
      const error = parsed as { message?: string; code?: string } | undefined
      throw new HttpError(response.status, error?.code, error?.message ?? `HTTP ${response.status}`)
    }
    return parsed as T
  }

  /** A GET answered with bytes (a backup file); errors as `request`. */
  async download(path: string): Promise<Buffer> {
    const headers: Record<string, string> = {}
    if (this.apiKey !== undefined && this.apiKey !== '') headers.authorization = `Bearer ${this.apiKey}`
    let response: Response
    try {
      response = await fetch(`${this.baseUrl}${path}`, { headers })
    } catch (error) {
      throw new HttpError(0, 'unreachable', `cannot reach ${this.baseUrl}: ${(error as Error).message}`)
    }
    const bytes = Buffer.from(await response.arrayBuffer())
    if (!response.ok) {
      let error: { message?: string; code?: string } | undefined
      try {
        error = JSON.parse(bytes.toString('utf8')) as { message?: string; code?: string }
      } catch {
        error = undefined
      }
      throw new HttpError(response.status, error?.code, error?.message ?? `HTTP ${response.status}`)
    }
    return bytes
  }

  /** Polls until every task has finished; returns them by uid. */
  async waitForTasks(uids: number[], intervalMs = 100): Promise<Map<number, TaskView>> {
    const done = new Map<number, TaskView>()
    let pending = [...uids]
    while (pending.length > 0) {
      for (let i = 0; i < pending.length; i += 500) {
        const chunk = pending.slice(i, i + 500)
        const page = await this.request<{ results: TaskView[] }>(
          'GET',
          `/tasks?uids=${chunk.join(',')}&limit=${chunk.length}`,
        )
        for (const task of page.results) {
          if (task.status === 'succeeded' || task.status === 'failed' || task.status === 'canceled')
            done.set(task.uid, task)
        }
      }
      pending = pending.filter((uid) => !done.has(uid))
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
    return done
  }
}
