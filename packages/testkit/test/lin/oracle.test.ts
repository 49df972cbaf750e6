import { describe, expect, it } from 'vitest'
import {
  checkLinearizability,
  type KvInput,
  type KvOutput,
  kvModel,
  type Operation,
} from '../../src/lin/index.ts'
import { Rng, testSeed } from '../../src/rng/index.ts'

type Op = Operation<KvInput, KvOutput>
const model = kvModel()

/**
 * Linearizability by its definition (Herlihy & Wing 1990), for small
 * histories: some order of the completed operations plus any subset of the
 * pending ones respects real time and is a legal sequential run.
 */
function bruteForce(history: readonly Op[]): boolean {
  const completed = history.filter((op) => op.return !== undefined).length
  const used = new Array<boolean>(history.length).fill(false)
  const explore = (state: string | null, placedCompleted: number): boolean => {
    if (placedCompleted === completed) return true
    for (let i = 0; i < history.length; i++) {
      if (used[i]) continue
      const op = history[i]!
      // Real time: nothing still unplaced returned before `op` was called.
      const blocked = history.some(
        (other, j) => !used[j] && other.return !== undefined && other.return < op.call,
      )
      if (blocked) continue
      const result = model.step(state, op.input, op.output)
      if (!result.ok) continue
      used[i] = true
      const found = explore(result.state, placedCompleted + (op.return === undefined ? 0 : 1))
      used[i] = false
      if (found) return true
    }
    return false
  }
  return explore(null, 0)
}

/** Clients running against one atomic register, then perhaps one observation falsified. */
function randomHistory(rng: Rng): Op[] {
  const clients = rng.range(1, 3)
  const events: Array<{ at: number; run: () => void }> = []
  const history: Op[] = []
  let register: string | null = null
  for (let client = 0; client < clients; client++) {
    let time = rng.int(3)
    for (let k = rng.range(1, 3); k > 0; k--) {
      const call = time
      const effect = call + rng.int(4)
      const ret = effect + rng.int(4)
      const r = rng.int(3)
      const value = String(rng.int(3))
      const input: KvInput =
        r === 0
          ? { kind: 'read', key: 'x' }
          : r === 1
            ? { kind: 'write', key: 'x', value }
            : { kind: 'cas', key: 'x', expected: rng.chance(0.3) ? null : String(rng.int(3)), value }
      const op: Op = { clientId: client, input, call, return: ret }
      history.push(op)
      const pending = rng.chance(0.15)
      const applies = !pending || rng.chance(0.5)
      events.push({
        at: effect + (client + 1) / 10,
        run: () => {
          if (!applies) return
          const result = model.step(register, input, undefined)
          if (!result.ok) return
          if (input.kind === 'read') op.output = { value: register }
          else if (input.kind === 'cas') op.output = { ok: register === input.expected }
          else op.output = {}
          register = result.state
        },
      })
      if (pending) {
        op.return = undefined
        break
      }
      time = ret + 1 + rng.int(2)
    }
  }
  events.sort((a, b) => a.at - b.at)
  for (const event of events) event.run()
  for (const op of history) if (op.return === undefined) op.output = undefined
  if (rng.chance(0.5)) {
    const observed = history.filter((op) => op.return !== undefined && op.input.kind !== 'write')
    if (observed.length > 0) {
      const op = rng.pick(observed)
      op.output =
        op.input.kind === 'read'
          ? { value: rng.chance(0.2) ? null : String(rng.int(3)) }
          : { ok: !op.output?.ok }
    }
  }
  return history
}

describe('checkLinearizability against a brute-force oracle', () => {
  it('agrees on 2000 random small register histories', () => {
    const seed = testSeed(20261129)
    const rng = new Rng(seed)
    let linearizable = 0
    for (let i = 0; i < 2000; i++) {
      const history = randomHistory(rng)
      const want = bruteForce(history)
      const got = checkLinearizability(model, history).verdict
      if (got !== (want ? 'linearizable' : 'not-linearizable')) {
        throw new Error(
          `seed ${seed}, history ${i}: oracle says ${want}, checker ${got}: ${JSON.stringify(history)}`,
        )
      }
      if (want) linearizable += 1
    }
    // Both verdicts are exercised.
    expect(linearizable).toBeGreaterThan(400)
    expect(linearizable).toBeLessThan(1900)
  })
})
