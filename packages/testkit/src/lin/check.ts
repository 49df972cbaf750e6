import { type Budget, searchPartition } from './internal/search.ts'
import type {
  CheckOptions,
  CheckResult,
  Counterexample,
  Model,
  Operation,
  PartitionReport,
  Verdict,
} from './types.ts'

/**
 * Decides whether `history` is linearizable with respect to `model`.
 *
 * The history is split with `model.partition` and each part is searched on its
 * own (smallest first, so a cheap failure is found early). The verdict is
 * `not-linearizable` as soon as one part is, `linearizable` when every part
 * is, and `unknown` when the budget ran out before that was settled.
 *
 * @example
 * const result = checkLinearizability(kvModel(), history, { timeoutMs: 5_000 })
 * if (result.verdict === 'not-linearizable') console.log(result.counterexample)
 */
export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const started = performance.now()
  const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY
  const budget: Budget = {
    deadlineMs: started + timeoutMs,
    stepsLeft: options.maxSteps ?? Number.POSITIVE_INFINITY,
    now: () => performance.now(),
  }
  for (const operation of history) validate(operation)
  const parts = partitionHistory(model, history)
  const reports: PartitionReport[] = []
  let counterexample: Counterexample<Input, Output> | undefined
  let steps = 0
  for (const [key, operations] of parts) {
    const partStarted = performance.now()
    const kept = operations.filter((op) => op.return !== undefined || model.readOnly?.(op.input) !== true)
    const exhausted = budget.stepsLeft <= 0 || partStarted > budget.deadlineMs
    const outcome = exhausted
      ? { verdict: 'unknown' as const, steps: 0, memoEntries: 0 }
      : searchPartition(model, kept, budget)
    steps += outcome.steps
    reports.push({
      key,
      verdict: outcome.verdict,
      operations: operations.length,
      dropped: operations.length - kept.length,
      steps: outcome.steps,
      memoEntries: outcome.memoEntries,
      elapsedMs: performance.now() - partStarted,
    })
    if (outcome.verdict === 'not-linearizable') {
      counterexample ??= {
        partition: key,
        longestPrefix: outcome.longestPrefix.map((i) => kept[i]!),
        stuck: outcome.stuck.map((i) => kept[i]!),
      }
      if (options.stopOnFailure ?? true) break
    }
  }
  const result: CheckResult<Input, Output> = {
    verdict: overall(reports, parts.size),
    partitions: reports,
    elapsedMs: performance.now() - started,
    steps,
  }
  if (counterexample !== undefined) result.counterexample = counterexample
  return result
}

function overall(reports: readonly PartitionReport[], partCount: number): Verdict {
  if (reports.some((r) => r.verdict === 'not-linearizable')) return 'not-linearizable'
  if (reports.length < partCount || reports.some((r) => r.verdict === 'unknown')) return 'unknown'
  return 'linearizable'
}

/** Groups operations by partition key, parts ordered by size then key. */
function partitionHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
): Map<string, Operation<Input, Output>[]> {
  const groups = new Map<string, Operation<Input, Output>[]>()
  for (const operation of history) {
    const key = model.partition === undefined ? '' : model.partition(operation.input)
    let group = groups.get(key)
    if (group === undefined) {
      group = []
      groups.set(key, group)
    }
    group.push(operation)
  }
  const ordered = [...groups.entries()].sort(
    ([a, opsA], [b, opsB]) => opsA.length - opsB.length || (a < b ? -1 : a > b ? 1 : 0),
  )
  return new Map(ordered)
}

function validate<Input, Output>(operation: Operation<Input, Output>): void {
  if (!Number.isFinite(operation.call)) {
    throw new RangeError(`operation of client ${operation.clientId} has call time ${operation.call}`)
  }
  if (operation.return !== undefined && !(operation.return >= operation.call)) {
    throw new RangeError(
      `operation of client ${operation.clientId} returns at ${operation.return}, before its call at ${operation.call}`,
    )
  }
}
