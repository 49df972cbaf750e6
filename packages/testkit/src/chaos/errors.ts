/** A fault, link or scenario description that cannot be applied (a probability outside [0, 1], an unknown node). */
export class ChaosConfigError extends Error {
  override readonly name = 'ChaosConfigError'
  readonly code = 'ERR_CHAOS_CONFIG'
}

/** A system under test that did not do what the runner asked (did not start, did not settle in time). */
export class ChaosRunError extends Error {
  override readonly name = 'ChaosRunError'
  readonly code = 'ERR_CHAOS_RUN'
}
