/**
 * A linearizability checker: Wing & Gong's search with Lowe's memoisation,
 * per-key partitioning (P-compositionality), pending operations and a budget.
 */
export { checkLinearizability } from './check.ts'
export { HistoryError } from './errors.ts'
export {
  describeKv,
  type KvInput,
  type KvModelOptions,
  type KvOutput,
  type KvValue,
  kvModel,
} from './kv-model.ts'
export { parseEtcdJepsenHistory, parseKvHistory } from './parse.ts'
export { HistoryRecorder, type HistoryRecorderOptions } from './recorder.ts'
export type {
  CheckOptions,
  CheckResult,
  Counterexample,
  Model,
  Operation,
  PartitionReport,
  StepResult,
  Verdict,
} from './types.ts'
