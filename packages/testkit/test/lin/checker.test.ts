import { describe, expect, it } from 'vitest'
import {
  checkLinearizability,
  HistoryError,
  HistoryRecorder,
  type KvInput,
  type KvOutput,
  kvModel,
  type Operation,
  parseEtcdJepsenHistory,
  parseKvHistory,
} from '../../src/lin/index.ts'

type Op = Operation<KvInput, KvOutput>
const model = kvModel()

const write = (value: string, call: number, ret?: number, key = 'x'): Op => ({
  clientId: `w${call}`,
  input: { kind: 'write', key, value },
  output: ret === undefined ? undefined : {},
  call,
  return: ret,
})
const read = (value: string | null, call: number, ret: number, key = 'x'): Op => ({
  clientId: `r${call}`,
  input: { kind: 'read', key },
  output: { value },
  call,
  return: ret,
})
const cas = (
  expected: string | null,
  value: string,
  ok: boolean | undefined,
  call: number,
  ret?: number,
): Op => ({
  clientId: `c${call}`,
  input: { kind: 'cas', key: 'x', expected, value },
  output: ok === undefined ? undefined : { ok },
  call,
  return: ret,
})

describe('checkLinearizability on a register', () => {
  it('accepts a sequential history that follows the model', () => {
    const history = [write('1', 0, 1), read('1', 2, 3), cas('1', '2', true, 4, 5), read('2', 6, 7)]
    expect(checkLinearizability(model, history).verdict).toBe('linearizable')
  })

  it('rejects a stale read after a completed write (real-time order)', () => {
    const history = [write('1', 0, 1), write('2', 2, 3), read('1', 4, 5)]
    const result = checkLinearizability(model, history)
    expect(result.verdict).toBe('not-linearizable')
    expect(result.counterexample?.longestPrefix.map((op) => op.input.kind)).toEqual(['write', 'write'])
    expect(result.counterexample?.stuck.map((op) => op.input.kind)).toEqual(['read'])
  })

  it('lets overlapping operations take effect in either order', () => {
    // The read overlaps the write of 2, so it may see 1 or 2.
    const before = [write('1', 0, 1), write('2', 2, 5), read('1', 3, 4)]
    const after = [write('1', 0, 1), write('2', 2, 5), read('2', 3, 4)]
    expect(checkLinearizability(model, before).verdict).toBe('linearizable')
    expect(checkLinearizability(model, after).verdict).toBe('linearizable')
  })

  it('treats operations that touch at one instant as overlapping', () => {
    expect(checkLinearizability(model, [write('1', 0, 2), read(null, 2, 3)]).verdict).toBe('linearizable')
  })

  it('rejects two reads that see the writes in opposite orders', () => {
    const history = [write('1', 0, 10), write('2', 0, 10), read('1', 1, 2), read('2', 3, 4), read('1', 5, 6)]
    expect(checkLinearizability(model, history).verdict).toBe('not-linearizable')
  })

  it('lets a pending write take effect long after its call', () => {
    const history = [write('1', 0), read(null, 5, 6), read('1', 7, 8)]
    expect(checkLinearizability(model, history).verdict).toBe('linearizable')
  })

  it('lets a pending write never take effect', () => {
    const history = [write('1', 0), read(null, 5, 6), read(null, 7, 8)]
    expect(checkLinearizability(model, history).verdict).toBe('linearizable')
  })

  it('does not let a pending write take effect before its call', () => {
    const history = [read('1', 0, 1), write('1', 2)]
    expect(checkLinearizability(model, history).verdict).toBe('not-linearizable')
  })

  it('does not let a pending write take effect twice', () => {
    const history = [write('1', 0), read('1', 1, 2), write('2', 3, 4), read('1', 5, 6)]
    expect(checkLinearizability(model, history).verdict).toBe('not-linearizable')
  })

  it('drops pending reads, which constrain nothing', () => {
    const pendingRead: Op = { clientId: 'p', input: { kind: 'read', key: 'x' }, call: 0 }
    const result = checkLinearizability(model, [pendingRead, write('1', 1, 2)])
    expect(result.verdict).toBe('linearizable')
    expect(result.partitions[0]?.dropped).toBe(1)
  })

  it('takes a failed compare-and-set as proof the value differed', () => {
    expect(checkLinearizability(model, [write('1', 0, 1), cas('1', '2', false, 2, 3)]).verdict).toBe(
      'not-linearizable',
    )
    expect(checkLinearizability(model, [write('1', 0, 1), cas('3', '2', false, 2, 3)]).verdict).toBe(
      'linearizable',
    )
  })

  it('applies a pending compare-and-set only where it would succeed', () => {
    const history = [write('1', 0, 1), cas('1', '2', undefined, 2), read('2', 3, 4), read('2', 5, 6)]
    expect(checkLinearizability(model, history).verdict).toBe('linearizable')
    const impossible = [write('1', 0, 1), cas('3', '2', undefined, 2), read('2', 3, 4)]
    expect(checkLinearizability(model, impossible).verdict).toBe('not-linearizable')
  })

  it('appends to the empty string for a never-written key', () => {
    const history: Op[] = [
      { clientId: 1, input: { kind: 'append', key: 'x', value: 'a' }, output: {}, call: 0, return: 1 },
      { clientId: 1, input: { kind: 'append', key: 'x', value: 'b' }, output: {}, call: 2, return: 3 },
      read('ab', 4, 5),
    ]
    expect(checkLinearizability(kvModel({ initialValue: '' }), history).verdict).toBe('linearizable')
  })

  it('rejects a return before its call with a RangeError', () => {
    expect(() => checkLinearizability(model, [write('1', 5, 4)])).toThrow(RangeError)
  })
})

describe('checkLinearizability across keys', () => {
  it('checks every key on its own and reports the failing key', () => {
    const history = [
      write('1', 0, 1, 'a'),
      read('1', 2, 3, 'a'),
      write('1', 0, 1, 'b'),
      write('2', 2, 3, 'b'),
      read('1', 4, 5, 'b'),
    ]
    const result = checkLinearizability(model, history)
    expect(result.verdict).toBe('not-linearizable')
    expect(result.counterexample?.partition).toBe('b')
  })

  it('checks every key when asked not to stop at the first failure', () => {
    const history = [write('1', 0, 1, 'b'), read('2', 2, 3, 'b'), write('1', 0, 1, 'a'), read('1', 2, 3, 'a')]
    const result = checkLinearizability(model, history, { stopOnFailure: false })
    expect(result.partitions.map((p) => [p.key, p.verdict])).toEqual([
      ['a', 'linearizable'],
      ['b', 'not-linearizable'],
    ])
  })

  it('answers unknown for the parts it had no budget for', () => {
    const history = [write('1', 0, 1, 'a'), write('1', 0, 1, 'b')]
    const result = checkLinearizability(model, history, { maxSteps: 0 })
    expect(result.verdict).toBe('unknown')
  })
})

describe('HistoryRecorder', () => {
  it('records completed, failed and timed-out operations', () => {
    const recorder = new HistoryRecorder<KvInput, KvOutput>()
    recorder.invoke(1, { kind: 'write', key: 'x', value: '1' })
    recorder.invoke(2, { kind: 'write', key: 'x', value: '2' })
    recorder.invoke(3, { kind: 'write', key: 'x', value: '3' })
    recorder.ok(1, {})
    recorder.fail(2)
    recorder.info(3)
    const history = recorder.history()
    expect(history.map((op) => [op.clientId, op.return !== undefined])).toEqual([
      [1, true],
      [3, false],
    ])
  })

  it('rejects a second invoke while one is outstanding and a completion with no invoke', () => {
    const recorder = new HistoryRecorder<KvInput, KvOutput>()
    recorder.invoke(1, { kind: 'read', key: 'x' })
    expect(() => recorder.invoke(1, { kind: 'read', key: 'x' })).toThrow(HistoryError)
    expect(() => recorder.ok(2, { value: null })).toThrow(HistoryError)
  })
})

describe('history parsers', () => {
  it('reads a Jepsen etcd log', () => {
    const log = [
      'INFO  jepsen.util - 0\t:invoke\t:write\t4',
      'INFO  jepsen.util - 1\t:invoke\t:cas\t[4 0]',
      'INFO  jepsen.util - 0\t:ok\t:write\t4',
      'INFO  jepsen.util - 1\t:fail\t:cas\t[4 0]',
      'INFO  jepsen.core - some other line',
      'INFO  jepsen.util - 2\t:invoke\t:read\tnil',
      'INFO  jepsen.util - 2\t:ok\t:read\tnil',
      'INFO  jepsen.util - 3\t:invoke\t:write\t1',
      'INFO  jepsen.util - 3\t:info\t:write\t:timed-out',
      'INFO  jepsen.util - 4\t:invoke\t:read\tnil',
      'INFO  jepsen.util - 4\t:fail\t:read\t:timed-out',
    ].join('\n')
    const ops = parseEtcdJepsenHistory(log)
    expect(ops.map((op) => [op.input, op.output, op.return !== undefined])).toEqual([
      [{ kind: 'write', key: '', value: '4' }, {}, true],
      [{ kind: 'cas', key: '', expected: '4', value: '0' }, { ok: false }, true],
      [{ kind: 'read', key: '' }, { value: null }, true],
      [{ kind: 'write', key: '', value: '1' }, undefined, false],
    ])
  })

  it('reads an EDN key-value history', () => {
    const text = [
      '{:process 0, :type :invoke, :f :put, :key "3", :value "x 0 1 y"}',
      '{:process 1, :type :invoke, :f :get, :key "3", :value nil}',
      '{:process 0, :type :ok, :f :put, :key "3", :value "x 0 1 y"}',
      '{:process 1, :type :ok, :f :get, :key "3", :value "x 0 1 y"}',
      '',
    ].join('\n')
    const ops = parseKvHistory(text)
    expect(ops.map((op) => [op.input, op.output])).toEqual([
      [{ kind: 'write', key: '3', value: 'x 0 1 y' }, {}],
      [{ kind: 'read', key: '3' }, { value: 'x 0 1 y' }],
    ])
    expect(checkLinearizability(kvModel({ initialValue: '' }), ops).verdict).toBe('linearizable')
  })

  it('reports malformed input as a HistoryError with its line', () => {
    expect(() => parseEtcdJepsenHistory('INFO  jepsen.util - 0\t:ok\t:read\t3')).toThrow(/line 1/)
    expect(() => parseEtcdJepsenHistory('INFO  jepsen.util - 0\t:invoke\t:cas\t[1]')).toThrow(HistoryError)
    expect(() => parseKvHistory('\n{:process 0, :type :invoke, :f :get}')).toThrow(/line 2/)
    expect(() => parseKvHistory('{:process 0, :type :invoke, :f :delete, :key "1", :value "v"}')).toThrow(
      HistoryError,
    )
  })
})
