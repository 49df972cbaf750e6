import { HistoryError } from './errors.ts'
import type { KvInput, KvOutput } from './kv-model.ts'
import { HistoryRecorder } from './recorder.ts'
import type { Operation } from './types.ts'

type KvOperation = Operation<KvInput, KvOutput>

const JEPSEN_LINE = /jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*?)\s*$/

/**
 * Reads a single-register history in Jepsen's log format (etcd tests):
 * `INFO  jepsen.util - 3	:invoke	:cas	[4 0]`. Other lines are ignored.
 *
 * Check it with `kvModel({ initialValue: null })`: the register starts empty
 * (`nil`). A `:fail` cas is an observation that the register held another
 * value; any other `:fail` did not take effect and is dropped; `:info` (timed
 * out) and calls that never complete are pending. Every operation is on key
 * `key`. Values are kept as their decimal strings.
 */
export function parseEtcdJepsenHistory(text: string, key = ''): KvOperation[] {
  const recorder = new HistoryRecorder<KvInput, KvOutput>()
  const lines = text.split('\n')
  lines.forEach((raw, index) => {
    const line = index + 1
    const match = JEPSEN_LINE.exec(raw)
    if (match === null) return
    const [, process, type, f, argument] = match as unknown as [string, string, string, string, string]
    const clientId = Number(process)
    if (type === 'invoke') {
      recorder.invoke(clientId, jepsenInput(f, argument, key, line), line)
      return
    }
    const input = recorder.outstanding(clientId)
    if (input === undefined)
      throw new HistoryError(`process ${clientId} completes ${f} it never invoked`, line)
    if (input.kind !== jepsenKind(f))
      throw new HistoryError(`process ${clientId} completes ${f}, invoked ${input.kind}`, line)
    if (type === 'info') recorder.info(clientId, line)
    else if (type === 'fail' && f === 'cas') recorder.ok(clientId, { ok: false }, line)
    else if (type === 'fail') recorder.fail(clientId, line)
    else if (f === 'read') recorder.ok(clientId, { value: jepsenValue(argument, line) }, line)
    else if (f === 'cas') recorder.ok(clientId, { ok: true }, line)
    else recorder.ok(clientId, {}, line)
  })
  return recorder.history()
}

function jepsenKind(f: string): KvInput['kind'] {
  return f === 'read' ? 'read' : f === 'write' ? 'write' : 'cas'
}

function jepsenInput(f: string, argument: string, key: string, line: number): KvInput {
  if (f === 'read') return { kind: 'read', key }
  if (f === 'write') {
    const value = jepsenValue(argument, line)
    if (value === null) throw new HistoryError('write of nil', line)
    return { kind: 'write', key, value }
  }
  const pair = /^\[\s*(\S+)\s+(\S+)\s*\]$/.exec(argument)
  if (pair === null) throw new HistoryError(`cas argument ${argument} is not [expected new]`, line)
  const value = jepsenValue(pair[2]!, line)
  if (value === null) throw new HistoryError('cas to nil', line)
  return { kind: 'cas', key, expected: jepsenValue(pair[1]!, line), value }
}

function jepsenValue(token: string, line: number): string | null {
  if (token === 'nil') return null
  if (!/^-?\d+$/.test(token)) throw new HistoryError(`value ${token} is neither nil nor an integer`, line)
  return token
}

const EDN_FIELD = /:([a-z][\w-]*)\s+("(?:[^"\\]|\\.)*"|nil|:[\w-]+|-?\d+)/g

/**
 * Reads a key-value history with one EDN map per line:
 * `{:process 0, :type :invoke, :f :put, :key "3", :value "x 0 1 y"}`.
 *
 * `:f` is `:get`, `:put` or `:append` (also `:read` and `:write`); a get of a
 * never-written key returns the empty string, so check it with
 * `kvModel({ initialValue: '' })`. `:fail` drops the operation, `:info` and
 * calls that never complete are pending. Blank lines are skipped.
 */
export function parseKvHistory(text: string): KvOperation[] {
  const recorder = new HistoryRecorder<KvInput, KvOutput>()
  const lines = text.split('\n')
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === '') return
    const fields = new Map<string, string | null>()
    for (const match of raw.matchAll(EDN_FIELD)) fields.set(match[1]!, ednValue(match[2]!, line))
    const process = fields.get('process')
    const type = fields.get('type')
    const f = fields.get('f')
    const key = fields.get('key')
    if (process == null || type == null || f == null || key == null) {
      throw new HistoryError(`expected :process, :type, :f and :key in ${raw.trim()}`, line)
    }
    const value = fields.get('value') ?? null
    if (type === 'invoke') recorder.invoke(process, kvInput(f, key, value, line), line)
    else if (type === 'ok')
      recorder.ok(process, f === 'get' || f === 'read' ? { value: value ?? '' } : {}, line)
    else if (type === 'fail') recorder.fail(process, line)
    else if (type === 'info') recorder.info(process, line)
    else throw new HistoryError(`unknown :type :${type}`, line)
  })
  return recorder.history()
}

function kvInput(f: string, key: string, value: string | null, line: number): KvInput {
  if (f === 'get' || f === 'read') return { kind: 'read', key }
  if (value === null) throw new HistoryError(`:${f} without a :value`, line)
  if (f === 'put' || f === 'write') return { kind: 'write', key, value }
  if (f === 'append') return { kind: 'append', key, value }
  throw new HistoryError(`unknown :f :${f}`, line)
}

function ednValue(token: string, line: number): string | null {
  if (token === 'nil') return null
  if (token.startsWith(':')) return token.slice(1)
  if (token.startsWith('"')) {
    try {
      return JSON.parse(token) as string
    } catch {
      throw new HistoryError(`malformed string ${token}`, line)
    }
  }
  return token
}
