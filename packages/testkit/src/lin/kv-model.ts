import type { Model, StepResult } from './types.ts'

/** A register's value; `null` is "never written" where the store tells that apart. */
export type KvValue = string | null

/** An operation on one key of a key-value store (a register when there is one key). */
export type KvInput =
  | { kind: 'read'; key: string }
  | { kind: 'write'; key: string; value: string }
  /** Sets `value` if the key holds `expected`. */
  | { kind: 'cas'; key: string; expected: KvValue; value: string }
  /** Appends `value` to the key's string (to the empty string when never written). */
  | { kind: 'append'; key: string; value: string }

/**
 * What the client observed: `value` for a read; `ok` for a compare-and-set
 * (`true`: it applied; `false`: it did not, because the key held something
 * other than `expected`). Writes and appends carry nothing.
 */
export interface KvOutput {
  value?: KvValue
  ok?: boolean
}

export interface KvModelOptions {
  /** What a read of a never-written key returns. @defaultValue null */
  initialValue?: KvValue
}

const REJECTED = { ok: false } as const

/**
 * The sequential specification of a linearizable key-value store with read,
 * write, compare-and-set and append. Keys are independent, so the checker
 * splits the history per key; the state of one part is the key's value.
 */
export function kvModel(options: KvModelOptions = {}): Model<KvValue, KvInput, KvOutput> {
  const initialValue = options.initialValue ?? null
  return {
    name: 'kv',
    init: () => initialValue,
    step: (state, input, output): StepResult<KvValue> => {
      switch (input.kind) {
        case 'read':
          if (output === undefined || output.value === state) return { ok: true, state }
          return REJECTED
        case 'write':
          return { ok: true, state: input.value }
        case 'append':
          return { ok: true, state: (state ?? '') + input.value }
        case 'cas': {
          const matches = state === input.expected
          if (output?.ok === undefined) return { ok: true, state: matches ? input.value : state }
          if (output.ok !== matches) return REJECTED
          return { ok: true, state: matches ? input.value : state }
        }
      }
    },
    partition: (input) => input.key,
    readOnly: (input) => input.kind === 'read',
    describe: (input, output) => describeKv(input, output),
  }
}

/** `read("k") -> "v"`, `cas("k", "a", "b") -> false`, `write("k", "v") -> ?` for an unknown outcome. */
export function describeKv(input: KvInput, output: KvOutput | undefined): string {
  const show = (v: KvValue | undefined): string => (v === undefined ? '?' : JSON.stringify(v))
  const key = JSON.stringify(input.key)
  switch (input.kind) {
    case 'read':
      return `read(${key}) -> ${show(output?.value)}`
    case 'write':
      return `write(${key}, ${show(input.value)})${output === undefined ? ' -> ?' : ''}`
    case 'append':
      return `append(${key}, ${show(input.value)})${output === undefined ? ' -> ?' : ''}`
    case 'cas':
      return `cas(${key}, ${show(input.expected)}, ${show(input.value)}) -> ${output?.ok ?? '?'}`
  }
}
