/**
 * Calls to the node's HTTP API with the key the operator logged in with. The key lives in
 * sessionStorage only: it survives a reload of this tab and is gone when the tab closes; it is
 * never written to localStorage, a cookie or a URL.
 */

const KEY_ITEM = 'shoal.dashboard.apiKey'

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY_ITEM)
  },
  remember(key: string): void {
    sessionStorage.setItem(KEY_ITEM, key)
  },
  forget(): void {
    sessionStorage.removeItem(KEY_ITEM)
  },
}

/** An answer other than 2xx, with the API's error code (`invalid_api_key`, `cluster_unavailable`, …). */
export class ApiFailure extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiFailure'
    this.status = status
    this.code = code
  }

  /** The key is missing, wrong or lacks the action. */
  get refusedKey(): boolean {
    return this.status === 401 || this.status === 403
  }
}

const TIMEOUT_MS = 10_000

/** One JSON request; throws ApiFailure on an error answer or when the node does not answer in time. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const key = session.key()
  const headers: Record<string, string> = {}
  if (key !== null && key !== '') headers.authorization = `Bearer ${key}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  } catch (error) {
    throw new ApiFailure(0, 'unreachable', `the node did not answer: ${(error as Error).message}`)
  }
  const text = await response.text()
  let parsed: unknown = null
  try {
    parsed = text === '' ? null : JSON.parse(text)
  } catch {
    throw new ApiFailure(
      response.status,
      'not_json',
      `${method} ${path} answered ${response.status}, not JSON`,
    )
  }
  if (!response.ok) {
    const error = (parsed ?? {}) as { code?: string; message?: string }
    throw new ApiFailure(
      response.status,
      error.code ?? 'error',
      error.message ?? `${method} ${path}: ${response.status}`,
    )
  }
  return parsed as T
}
