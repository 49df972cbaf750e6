import type { Model, Operation } from '../types.ts'
import { Memo } from './memo.ts'

/** A shared, decreasing allowance of search steps and wall-clock time. */
export interface Budget {
  deadlineMs: number
  stepsLeft: number
  now(): number
}

export type SearchOutcome =
  | { verdict: 'linearizable'; steps: number; memoEntries: number }
  | { verdict: 'unknown'; steps: number; memoEntries: number }
  | {
      verdict: 'not-linearizable'
      steps: number
      memoEntries: number
      /** Indices into the searched operations. */
      longestPrefix: number[]
      stuck: number[]
    }

/** How often (in steps) the wall clock is read. */
const CLOCK_EVERY_STEPS = 4096

/**
 * Wing & Gong's search with Lowe's memoisation over one independent history.
 *
 * The history is a doubly linked list of call and return entries in time
 * order. The search walks it from the front: a call entry is an operation that
 * may be linearized now (every operation before its call has returned or been
 * linearized); if the model accepts it and the (linearized set, state) pair is
 * new, the operation is linearized and its entries are unlinked (just-in-time
 * linearization: an operation is placed only when nothing forces otherwise).
 * Reaching a return entry means its operation was not linearized before it
 * returned, so the search backtracks to the last choice.
 *
 * Pending operations have a call entry and no return entry: nothing forces
 * them, so they are linearized only when that lets a later operation fit, and
 * the search succeeds once every completed operation is linearized (the
 * pending remainder never took effect).
 */
export function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  budget: Budget,
): SearchOutcome {
  const n = operations.length
  const list = buildList(operations)
  const { next, prev, entryOp, returnEntry, head } = list
  const memo = new Memo(n)
  const stateKey = model.stateKey === undefined ? (s: State): unknown => s : model.stateKey.bind(model)
  const stateIds = new Map<unknown, number>()
  const intern = (s: State): number => {
    const key = stateKey(s)
    let id = stateIds.get(key)
    if (id === undefined) {
      id = stateIds.size
      stateIds.set(key, id)
    }
    return id
  }

  const lift = (op: number): void => {
    const call = op
    next[prev[call]!] = next[call]!
    prev[next[call]!] = prev[call]!
    const ret = returnEntry[op]!
    if (ret >= 0) {
      next[prev[ret]!] = next[ret]!
      prev[next[ret]!] = prev[ret]!
    }
  }
  const unlift = (op: number): void => {
    const ret = returnEntry[op]!
    if (ret >= 0) {
      next[prev[ret]!] = ret
      prev[next[ret]!] = ret
    }
    next[prev[op]!] = op
    prev[next[op]!] = op
  }

  let remaining = 0
  for (let op = 0; op < n; op++) if (returnEntry[op]! >= 0) remaining += 1
  let state = model.init()
  let stateId = intern(state)
  const stackOps: number[] = []
  const stackStates: State[] = []
  const stackStateIds: number[] = []
  let bestPrefix: number[] = []
  let bestStuck: number[] = candidates(list)
  let steps = 0
  let entry = next[head]!

  while (remaining > 0) {
    steps += 1
    if (steps % CLOCK_EVERY_STEPS === 0 && (steps > budget.stepsLeft || budget.now() > budget.deadlineMs)) {
      budget.stepsLeft -= steps
      return { verdict: 'unknown', steps, memoEntries: memo.size }
    }
    const op = entryOp[entry]!
    if (entry === op) {
      // A call entry: try to linearize `op` now.
      const operation = operations[op]!
      const result = model.step(state, operation.input, operation.output)
      const nextId = result.ok ? intern(result.state) : -1
      // A pending operation that would leave the state as it is gains nothing
      // from being placed here: leaving it out (for later, or never) covers
      // every continuation that placing it would.
      const useful = nextId >= 0 && (nextId !== stateId || returnEntry[op]! >= 0)
      if (result.ok && useful) {
        memo.set(op)
        if (memo.add(nextId)) {
          stackOps.push(op)
          stackStates.push(state)
          stackStateIds.push(stateId)
          state = result.state
          stateId = nextId
          lift(op)
          if (returnEntry[op]! >= 0) remaining -= 1
          if (stackOps.length > bestPrefix.length) {
            bestPrefix = stackOps.slice()
            bestStuck = candidates(list)
          }
          entry = next[head]!
          continue
        }
        memo.clear(op)
      }
      entry = next[entry]!
    } else {
      // A return entry: its operation missed its window; undo the last choice.
      const undone = stackOps.pop()
      if (undone === undefined) {
        budget.stepsLeft -= steps
        return {
          verdict: 'not-linearizable',
          steps,
          memoEntries: memo.size,
          longestPrefix: bestPrefix,
          stuck: bestStuck,
        }
      }
      state = stackStates.pop()!
      stateId = stackStateIds.pop()!
      memo.clear(undone)
      unlift(undone)
      if (returnEntry[undone]! >= 0) remaining += 1
      entry = next[undone]!
    }
  }
  budget.stepsLeft -= steps
  return { verdict: 'linearizable', steps, memoEntries: memo.size }
}

interface EntryList {
  /** Entry `op` (< n) is the call of operation `op`; entries n.. are returns. */
  next: Int32Array
  prev: Int32Array
  entryOp: Int32Array
  /** The return entry of each operation, or -1 when pending. */
  returnEntry: Int32Array
  head: number
  tail: number
}

function buildList<Input, Output>(operations: readonly Operation<Input, Output>[]): EntryList {
  const n = operations.length
  const size = 2 * n + 2
  const head = 2 * n
  const tail = 2 * n + 1
  const entryOp = new Int32Array(size).fill(-1)
  const returnEntry = new Int32Array(n).fill(-1)
  const events: Array<{ entry: number; time: number; isCall: boolean }> = []
  for (let op = 0; op < n; op++) {
    const operation = operations[op]!
    entryOp[op] = op
    events.push({ entry: op, time: operation.call, isCall: true })
    if (operation.return !== undefined) {
      returnEntry[op] = n + op
      entryOp[n + op] = op
      events.push({ entry: n + op, time: operation.return, isCall: false })
    }
  }
  // Calls before returns at equal times: touching operations overlap.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.entry - b.entry : a.isCall ? -1 : 1))
  const next = new Int32Array(size).fill(-1)
  const prev = new Int32Array(size).fill(-1)
  let last = head
  for (const event of events) {
    next[last] = event.entry
    prev[event.entry] = last
    last = event.entry
  }
  next[last] = tail
  prev[tail] = last
  return { next, prev, entryOp, returnEntry, head, tail }
}

/** The operations that may be linearized next: call entries before the first return entry. */
function candidates(list: EntryList): number[] {
  const found: number[] = []
  for (let e = list.next[list.head]!; e !== list.tail; e = list.next[e]!) {
    const op = list.entryOp[e]!
    if (e !== op) break
    found.push(op)
  }
  return found
}
