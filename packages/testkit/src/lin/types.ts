/**
 * The vocabulary of the linearizability checker: operations of a history, the
 * sequential model they are checked against, and the verdict.
 */

/**
 * One operation of a concurrent history, as a client saw it.
 *
 * `call` and `return` are times on one clock shared by all clients (any
 * increasing numbers; event sequence numbers work). Two operations overlap when
 * neither returned before the other was called; an operation that returned at
 * the same time another was called counts as overlapping it.
 *
 * An operation without `return` is pending: the client crashed or timed out, so
 * the operation may have taken effect at any point after `call`, or never.
 * Its `output` is then unknown and ignored.
 */
export interface Operation<Input, Output> {
  /** Who issued it; a client has at most one operation outstanding. */
  clientId: number | string
  input: Input
  /** The observed result; `undefined` when unknown. */
  output?: Output | undefined
  call: number
  /** When the client saw the result; `undefined` for a pending operation. */
  return?: number | undefined
}

/** The outcome of applying one input to a state: the next state, or `ok: false` if the output is impossible. */
export type StepResult<State> = { ok: true; state: State } | { ok: false }

/**
 * A sequential specification: what a correct single-copy object does.
 *
 * States must be immutable values: `step` returns a new state and leaves the
 * one it was given alone (the search keeps old states to backtrack to).
 */
export interface Model<State, Input, Output> {
  readonly name: string
  init(): State
  /**
   * Applies `input` to `state`. `output` is `undefined` when the outcome is
   * unknown (a pending operation): every outcome is then allowed.
   */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>
  /**
   * A value that is equal (by `SameValueZero`, as a `Map` key) exactly when two
   * states are equal; the memo table uses it. Omit it when states are
   * primitives.
   */
  stateKey?(state: State): unknown
  /**
   * Splits the history into independent sub-histories (per key, for a
   * key-value store): a history is linearizable iff each part is
   * (P-compositionality, Horn & Kroening 2015). Omit it for a single object.
   */
  partition?(input: Input): string
  /**
   * True for an input that never changes the state. A pending read-only
   * operation constrains nothing and is dropped before the search.
   */
  readOnly?(input: Input): boolean
  /** A short human-readable form of an operation, for reports. */
  describe?(input: Input, output: Output | undefined): string
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown'

export interface CheckOptions {
  /**
   * Wall-clock budget for the whole check in milliseconds; when it runs out,
   * the unfinished partitions are `unknown`. @defaultValue Infinity
   */
  timeoutMs?: number
  /**
   * Budget in search steps (one step tries one operation), summed over
   * partitions; deterministic, unlike `timeoutMs`. @defaultValue Infinity
   */
  maxSteps?: number
  /**
   * Stop at the first non-linearizable partition instead of checking the
   * rest. @defaultValue true
   */
  stopOnFailure?: boolean
}

export interface PartitionReport {
  /** The partition key (`''` when the model does not partition). */
  key: string
  verdict: Verdict
  operations: number
  /** Operations dropped before the search (pending and read-only). */
  dropped: number
  steps: number
  /** Distinct (linearized set, state) pairs memoised. */
  memoEntries: number
  elapsedMs: number
}

/**
 * Why a history is not linearizable: in one partition, the longest prefix of
 * operations the search could linearize (in linearization order), and the
 * operations that were candidates next, none of which fits.
 */
export interface Counterexample<Input, Output> {
  partition: string
  longestPrefix: Operation<Input, Output>[]
  stuck: Operation<Input, Output>[]
}

export interface CheckResult<Input, Output> {
  verdict: Verdict
  partitions: PartitionReport[]
  counterexample?: Counterexample<Input, Output>
  elapsedMs: number
  steps: number
}
