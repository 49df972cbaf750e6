import type { Logger } from 'pino'

/** A part still stopping after this long is logged, and again each period, so a stop that hangs says where. */
const SLOW_STOP_MS = 5_000

/**
 * Stops one part of the process (`component` names it in the log) and resolves once it has
 * stopped. With `ignoreErrors` its failure is swallowed so the parts after it still stop;
 * otherwise it is thrown. While it takes longer than `SLOW_STOP_MS` a warning is logged each period.
 */
export async function stopStep(
  component: string,
  stop: () => Promise<void>,
  logger: Logger,
  ignoreErrors = true,
): Promise<void> {
  const startedAt = Date.now()
  const slow = setInterval(
    () =>
      logger.warn({ component, waitedMs: Date.now() - startedAt }, 'stopping: still waiting for this part'),
    SLOW_STOP_MS,
  )
  slow.unref?.()
  try {
    await stop()
  } catch (error) {
    if (!ignoreErrors) throw error
  } finally {
    clearInterval(slow)
  }
}
