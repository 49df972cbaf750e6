import type { KvInput, KvOutput } from '../lin/kv-model.ts'
import type { Operation } from '../lin/types.ts'
import type { ReplicaState } from './system.ts'

type KvOperation = Operation<KvInput, KvOutput>

/** An acknowledged write whose value is gone after settling. */
export interface LostWrite {
  key: string
  value: string
  /** What the key holds after settling. */
  finalValue: string | null
}

/**
 * Acknowledged writes that the final state contradicts. Values are unique, so
 * the final value of a key names the write that produced it; an acknowledged
 * write to that key that was called after that write had returned came later
 * in real time, so it should have replaced it: it was lost. A key that reads
 * as never written loses every acknowledged write to it.
 */
export function lostWrites(
  history: readonly KvOperation[],
  finalValues: ReadonlyMap<string, string | null>,
): LostWrite[] {
  const writesByKey = new Map<string, KvOperation[]>()
  for (const op of history) {
    if (op.input.kind !== 'write') continue
    const list = writesByKey.get(op.input.key) ?? []
    list.push(op)
    writesByKey.set(op.input.key, list)
  }
  const lost: LostWrite[] = []
  for (const [key, writes] of writesByKey) {
    const finalValue = finalValues.get(key) ?? null
    const acknowledged = writes.filter((w) => w.return !== undefined)
    const last = writes.find((w) => w.input.kind === 'write' && w.input.value === finalValue)
    for (const write of acknowledged) {
      const value = (write.input as { value: string }).value
      if (value === finalValue) continue
      const overtaken =
        finalValue === null || last === undefined || (last.return !== undefined && write.call > last.return)
      if (overtaken) lost.push({ key, value, finalValue })
    }
  }
  return lost
}

/** Keys whose value differs between replicas, with each replica's value. */
export function divergentKeys(
  states: readonly ReplicaState[],
): Array<{ key: string; values: Record<string, string | null> }> {
  const keys = new Set<string>()
  for (const state of states) for (const key of state.values.keys()) keys.add(key)
  const out: Array<{ key: string; values: Record<string, string | null> }> = []
  for (const key of [...keys].sort()) {
    const values: Record<string, string | null> = {}
    for (const state of states) values[state.node] = state.values.get(key) ?? null
    if (new Set(Object.values(values)).size > 1) out.push({ key, values })
  }
  return out
}
