/**
 * Work over many documents written once, as a generator that yields between chunks, and run
 * either whole (a synchronous caller, or no pause given) or with a pause at every yield, so
 * that a large batch does not hold the event loop while it is validated or staged.
 */

/** A computation of a `T` that yields wherever it may pause. */
export type Steps<T> = Generator<void, T, void>

/** Runs `steps` to the end without pausing. */
export function runWhole<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next()
    if (next.done) return next.value
  }
}

/** Runs `steps`, awaiting `pause` at every yield (or without pausing when there is none). */
export async function runInSlices<T>(steps: Steps<T>, pause: (() => Promise<void>) | undefined): Promise<T> {
  if (pause === undefined) return runWhole(steps)
  for (;;) {
    const next = steps.next()
    if (next.done) return next.value
    await pause()
  }
}
