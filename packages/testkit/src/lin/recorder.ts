import { HistoryError } from './errors.ts'
import type { Operation } from './types.ts'

export interface HistoryRecorderOptions {
  /**
   * The clock stamped on calls and returns. @defaultValue a counter that
   * advances by one per event, which orders events exactly as recorded
   */
  now?: () => number
}

/**
 * Records a concurrent history as clients run, in Jepsen's terms: `invoke`
 * when a client sends a request, then exactly one of `ok` (it took effect and
 * the client saw `output`), `fail` (it certainly did not take effect: the
 * operation is dropped) or `info` (unknown: a crash or time-out; it stays
 * pending and may have taken effect at any point after its call, or never).
 *
 * @example
 * const recorder = new HistoryRecorder<KvInput, KvOutput>()
 * recorder.invoke(1, { kind: 'write', key: 'x', value: '1' })
 * recorder.ok(1, {})
 * checkLinearizability(kvModel(), recorder.history())
 */
export class HistoryRecorder<Input, Output> {
  #operations: Array<Operation<Input, Output> | undefined> = []
  #open = new Map<number | string, number>()
  #now: () => number
  #ticks = 0

  constructor(options: HistoryRecorderOptions = {}) {
    this.#now = options.now ?? (() => this.#ticks++)
  }

  /** Starts an operation of `clientId`; throws `HistoryError` if that client already has one outstanding. */
  invoke(clientId: number | string, input: Input, line?: number): void {
    if (this.#open.has(clientId)) {
      throw new HistoryError(`client ${clientId} invokes while an operation is outstanding`, line)
    }
    this.#open.set(clientId, this.#operations.length)
    this.#operations.push({ clientId, input, call: this.#now() })
  }

  /** Completes the outstanding operation of `clientId` with `output`. */
  ok(clientId: number | string, output: Output, line?: number): void {
    const operation = this.#close(clientId, line)
    operation.output = output
    operation.return = this.#now()
  }

  /** The outstanding operation of `clientId` certainly did not take effect. */
  fail(clientId: number | string, line?: number): void {
    const index = this.#open.get(clientId)
    this.#close(clientId, line)
    if (index !== undefined) this.#operations[index] = undefined
  }

  /** The outcome of the outstanding operation of `clientId` is unknown. */
  info(clientId: number | string, line?: number): void {
    this.#close(clientId, line)
  }

  /** The input of the outstanding operation of `clientId`, if any. */
  outstanding(clientId: number | string): Input | undefined {
    const index = this.#open.get(clientId)
    return index === undefined ? undefined : this.#operations[index]?.input
  }

  /** The history so far; operations still outstanding are pending. The caller owns the array. */
  history(): Operation<Input, Output>[] {
    return this.#operations
      .filter((op): op is Operation<Input, Output> => op !== undefined)
      .map((op) => ({ ...op }))
  }

  #close(clientId: number | string, line: number | undefined): Operation<Input, Output> {
    const index = this.#open.get(clientId)
    if (index === undefined)
      throw new HistoryError(`client ${clientId} completes an operation it never invoked`, line)
    this.#open.delete(clientId)
    return this.#operations[index]!
  }
}
