/**
 * Searches beside the chaos workload on a sharded index, and what their
 * answers must satisfy. A search either answers 200 or fails with 503
 * `shards_unavailable` / `cluster_unavailable`; an answer without `partial` is
 * complete, so it holds every document acknowledged before the search began,
 * each with a value no older than the last write acknowledged before it began,
 * and no value that was never written (or whose write failed).
 */
import type { KvInput, KvOutput } from '@shoal/testkit/lin'
import type { Rng } from '@shoal/testkit/rng'
import { MARKERS, markerOf } from './chaos-shards-client.ts'
import {
  describeOutcome,
  errorCode,
  type HttpLog,
  type NodeAddress,
  request,
  sleep,
} from './chaos-shards-http.ts'

/** A recorded history operation (failed ones are left out). */
export interface HistoryOp {
  clientId: number | string
  input: KvInput
  output?: KvOutput | undefined
  call: number
  return?: number | undefined
}

export interface Hit {
  id: string
  value: string
  marker: string
}

export type SearchOutcome =
  | { kind: 'hits'; hits: Hit[]; missingShards: number[] | null }
  /** 503 with `shards_unavailable` or `cluster_unavailable`: an allowed refusal. */
  | { kind: 'unavailable'; code: string }
  /** Any other answer. */
  | { kind: 'unexpected'; answer: string }
  /** No answer: a time-out or a lost connection. */
  | { kind: 'lost'; reason: string }

export interface SearchRecord {
  node: string
  /** The marker filtered on, or null for every document. */
  filter: string | null
  consistency: 'strong' | 'eventual'
  allowPartial: boolean
  call: number
  return: number
  outcome: SearchOutcome
}

export const ALLOWED_503 = ['shards_unavailable', 'cluster_unavailable']

/** Sends one search and classifies its answer. */
export async function searchOnce(
  log: HttpLog,
  node: NodeAddress,
  uid: string,
  query: { filter: string | null; consistency: 'strong' | 'eventual'; allowPartial: boolean },
  timeoutMs: number,
): Promise<SearchOutcome> {
  const body = {
    q: '',
    limit: 1000,
    ...(query.filter === null ? {} : { filter: `marker = ${query.filter}` }),
    ...(query.consistency === 'eventual' ? { consistency: 'eventual' } : {}),
    ...(query.allowPartial ? { allowPartialResults: true } : {}),
  }
  const outcome = await request(log, node, 'POST', `/indexes/${uid}/search`, body, timeoutMs)
  if (outcome.kind !== 'answer') return { kind: 'lost', reason: describeOutcome(outcome) }
  if (outcome.status === 200) {
    const answer = outcome.body as { hits: Hit[]; partial?: { missingShards: number[] } }
    return { kind: 'hits', hits: answer.hits, missingShards: answer.partial?.missingShards ?? null }
  }
  const code = errorCode(outcome.body)
  if (outcome.status === 503 && code !== undefined && ALLOWED_503.includes(code))
    return { kind: 'unavailable', code }
  return {
    kind: 'unexpected',
    answer: `${describeOutcome(outcome)} ${JSON.stringify(outcome.body).slice(0, 200)}`,
  }
}

/**
 * Two searchers, each sending a search at a time to a random node: a third
 * unfiltered, the rest filtered on one marker; a fifth eventual, the rest
 * strong; a third allowing partial results.
 */
export class SearchProbe {
  readonly records: SearchRecord[] = []
  readonly #nodes: readonly NodeAddress[]
  readonly #uid: string
  readonly #log: HttpLog
  readonly #timeoutMs: number
  #running = false
  #loops: Promise<void>[] = []

  constructor(nodes: readonly NodeAddress[], uid: string, log: HttpLog, timeoutMs: number) {
    this.#nodes = nodes
    this.#uid = uid
    this.#log = log
    this.#timeoutMs = timeoutMs
  }

  start(now: () => number, rng: Rng, searchers = 2): void {
    if (this.#running) return
    this.#running = true
    for (let i = 0; i < searchers; i++) this.#loops.push(this.#loop(now, rng.fork()))
  }

  async stop(): Promise<void> {
    this.#running = false
    await Promise.all(this.#loops)
    this.#loops = []
  }

  async #loop(now: () => number, rng: Rng): Promise<void> {
    while (this.#running) {
      const node = rng.pick(this.#nodes)
      const query = {
        filter: rng.chance(1 / 3) ? null : rng.pick(MARKERS),
        consistency: rng.chance(0.2) ? ('eventual' as const) : ('strong' as const),
        allowPartial: rng.chance(1 / 3),
      }
      const call = now()
      const outcome = await searchOnce(this.#log, node, this.#uid, query, this.#timeoutMs)
      this.records.push({ node: node.name, ...query, call, return: now(), outcome })
      await sleep(10 + rng.int(40))
    }
  }
}

/** Outcomes of the searches by kind, for the report. */
export function searchCounts(records: readonly SearchRecord[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of records) {
    const kind =
      r.outcome.kind === 'hits'
        ? r.outcome.missingShards === null
          ? 'complete'
          : 'partial'
        : r.outcome.kind === 'unavailable'
          ? r.outcome.code
          : r.outcome.kind === 'lost' && r.outcome.reason === 'connection refused'
            ? 'refused'
            : r.outcome.kind
    counts[kind] = (counts[kind] ?? 0) + 1
  }
  return counts
}

/**
 * What the searches' answers got wrong against the history (times on the
 * same clock). `shardOf` maps a key to its shard, to excuse the keys of the
 * shards a partial answer names as missing. Lost searches (no answer) are not
 * violations; unexpected answers are.
 */
export function searchViolations(
  records: readonly SearchRecord[],
  history: readonly HistoryOp[],
  shardOf: (key: string) => number,
): string[] {
  const writes = new Map<string, Array<HistoryOp & { input: { kind: 'write'; value: string } }>>()
  for (const op of history) {
    if (op.input.kind !== 'write') continue
    const list = writes.get(op.input.key) ?? []
    list.push(op as HistoryOp & { input: { kind: 'write'; value: string } })
    writes.set(op.input.key, list)
  }
  const violations: string[] = []
  for (const r of records) {
    const where = `${r.consistency} search${r.filter === null ? '' : ` for marker ${r.filter}`} through ${r.node} [${Math.round(r.call)}, ${Math.round(r.return)}] ms`
    if (r.outcome.kind === 'unexpected') violations.push(`${where} answered ${r.outcome.answer}`)
    if (r.outcome.kind !== 'hits') continue
    const missing = new Set(r.outcome.missingShards ?? [])
    const seen = new Map<string, string>()
    for (const hit of r.outcome.hits) {
      seen.set(hit.id, hit.value)
      const source = writes.get(hit.id)?.find((w) => w.input.value === hit.value && w.call < r.return)
      if (source === undefined) {
        violations.push(`${where}: ${hit.id} = ${hit.value}, a value never written or whose write failed`)
        continue
      }
      if (hit.marker !== markerOf(hit.value) || (r.filter !== null && hit.marker !== r.filter))
        violations.push(`${where}: ${hit.id} = ${hit.value} with marker ${hit.marker}`)
      if (r.consistency !== 'strong' || source.return === undefined) continue
      const sourceReturn = source.return
      const newer = writes
        .get(hit.id)
        ?.find((w) => w.return !== undefined && w.call > sourceReturn && w.return < r.call)
      if (newer !== undefined)
        violations.push(
          `${where}: ${hit.id} = ${hit.value}, though ${newer.input.value} was acknowledged at ${Math.round(newer.return as number)} ms`,
        )
    }
    if (r.consistency !== 'strong') continue
    for (const [key, list] of writes) {
      if (missing.has(shardOf(key))) continue
      const expected = settledValue(list, r)
      if (expected === undefined) {
        // Not settled, but a key acknowledged before the search exists in any case.
        if (
          r.filter === null &&
          !seen.has(key) &&
          list.some((w) => w.return !== undefined && w.return < r.call)
        )
          violations.push(`${where}: ${key}, acknowledged before, is missing`)
        continue
      }
      const shouldMatch = r.filter === null || markerOf(expected) === r.filter
      if (shouldMatch && seen.get(key) !== expected)
        violations.push(`${where}: ${key} should be ${expected}, got ${seen.get(key) ?? 'no hit'}`)
      if (!shouldMatch && seen.has(key))
        violations.push(`${where}: ${key} = ${seen.get(key)} matched, though its value is ${expected}`)
    }
  }
  return violations
}

/**
 * The value `key` certainly held throughout the search: its last write was
 * acknowledged before the search began and every other write to it that the
 * search could see had certainly returned before that write was called.
 * Undefined when that is not certain.
 */
function settledValue(
  list: ReadonlyArray<HistoryOp & { input: { value: string } }>,
  r: SearchRecord,
): string | undefined {
  const candidates = list.filter((w) => w.call < r.return)
  const last = candidates.find(
    (w) =>
      w.return !== undefined &&
      w.return < r.call &&
      candidates.every((other) => other === w || (other.return !== undefined && other.return < w.call)),
  )
  return last?.input.value
}
