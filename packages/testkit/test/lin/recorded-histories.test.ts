import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkLinearizability, kvModel, parseEtcdJepsenHistory, parseKvHistory } from '../../src/lin/index.ts'
import { sharedPath } from '../../src/shared/index.ts'

// Jepsen etcd histories and key-value histories with verdicts from an
// independent checker (see the folder's README).
const folder = sharedPath('linearizability-histories')
const expected = JSON.parse(readFileSync(path.join(folder, 'expected.json'), 'utf8')) as Record<
  string,
  boolean
>
const cases = Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))

function load(name: string) {
  const etcd = name.startsWith('etcd_')
  const text = readFileSync(path.join(folder, etcd ? 'etcd' : 'kv', name), 'utf8')
  return {
    operations: etcd ? parseEtcdJepsenHistory(text) : parseKvHistory(text),
    model: kvModel({ initialValue: etcd ? null : '' }),
  }
}

describe('recorded histories', () => {
  it('has all 108 histories with their verdicts', () => {
    expect(cases).toHaveLength(108)
    expect(cases.filter(([, linearizable]) => linearizable)).toHaveLength(26)
  })

  it.each(cases)('%s: the verdict agrees with expected.json (linearizable: %s)', (name, linearizable) => {
    const { operations, model } = load(name)
    expect(operations.length).toBeGreaterThan(0)
    const result = checkLinearizability(model, operations, { timeoutMs: 20_000 })
    expect(result.verdict).toBe(linearizable ? 'linearizable' : 'not-linearizable')
    if (!linearizable) {
      expect(result.counterexample?.stuck.length).toBeGreaterThan(0)
    }
  })

  it('splits the multi-key histories per key', () => {
    const { operations, model } = load('c50-ok.txt')
    const result = checkLinearizability(model, operations)
    expect(result.partitions.map((p) => p.key).sort()).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ])
    expect(result.partitions.reduce((sum, p) => sum + p.operations, 0)).toBe(operations.length)
  })

  it('answers unknown instead of searching on when the step budget runs out', () => {
    const { operations, model } = load('etcd_002.log')
    const result = checkLinearizability(model, operations, { maxSteps: 10_000 })
    expect(result.verdict).toBe('unknown')
    expect(result.partitions[0]?.verdict).toBe('unknown')
  })

  it('answers unknown when the time budget runs out', () => {
    const { operations, model } = load('etcd_002.log')
    const started = performance.now()
    const result = checkLinearizability(model, operations, { timeoutMs: 1 })
    expect(result.verdict).toBe('unknown')
    expect(performance.now() - started).toBeLessThan(2_000)
  })
})
