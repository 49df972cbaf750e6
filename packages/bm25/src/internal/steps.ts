/**
 * Work written once as a generator that yields where it may pause: run in one go (`runSteps`),
 * or with `pause` awaited at every yield (`runStepsWithPauses`), so a long load or check does not
 * hold the event loop, and both ways run the very same code.
 */
export type Steps<T> = Generator<void, T, void>

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
  }
}

export async function runStepsWithPauses<T>(steps: Steps<T>, pause: () => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
    await pause()
  }
}
