/** Options of `waitFor`. */
export interface WaitOptions {
  /** Give up after this long. @defaultValue 20000 */
  timeoutMs?: number
  /** Check this often. @defaultValue 20 */
  intervalMs?: number
  signal?: AbortSignal
}

/**
 * Polls `condition` until it holds; rejects naming `what` (and the last error
 * the condition threw, if any) once `timeoutMs` has passed. The one place tests
 * wait for a condition, so every wait is bounded and says what it waited for.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000
  const intervalMs = options.intervalMs ?? 20
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    options.signal?.throwIfAborted()
    try {
      if (await condition()) return
      lastError = undefined
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `: last error ${lastError.message}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`, { cause: lastError })
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
