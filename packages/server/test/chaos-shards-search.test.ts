import { describe, expect, it } from 'vitest'
import { markerOf } from './harness/chaos-shards-client.ts'
import {
  type HistoryOp,
  type SearchOutcome,
  type SearchRecord,
  searchCounts,
  searchViolations,
} from './harness/chaos-shards-search.ts'

// What the shoal-shards chaos system demands of the searches it sends beside the workload,
// checked here on hand-written histories (times in ms on the run's clock). A unit test of the
// check alone, with no process and nothing to skip: the runs against real processes are
// chaos-shards.test.ts (the CI smoke) and `pnpm chaos --system shoal-shards`.

const write = (clientId: string, key: string, value: string, call: number, ret?: number): HistoryOp => ({
  clientId,
  input: { kind: 'write', key, value },
  call,
  ...(ret === undefined ? {} : { return: ret, output: {} }),
})

const hit = (id: string, value: string) => ({ id, value, marker: markerOf(value) })

function search(
  outcome: SearchOutcome,
  call: number,
  ret: number,
  options: Partial<Pick<SearchRecord, 'filter' | 'consistency' | 'allowPartial'>> = {},
): SearchRecord {
  return {
    node: 'n1',
    filter: null,
    consistency: 'strong',
    allowPartial: false,
    ...options,
    call,
    return: ret,
    outcome,
  }
}

// k1 written twice (a then b), k2 once; k3's write is unknown (no return).
const history = [
  write('c0', 'k1', 'c0:1', 0, 10),
  write('c0', 'k1', 'c0:2', 20, 30),
  write('c1', 'k2', 'c1:1', 5, 15),
  write('c2', 'k3', 'c2:1', 25),
]
const shardOf = (key: string) => Number(key.slice(1)) % 2

describe('searches beside the chaos workload', () => {
  it('accept a complete answer with the latest acknowledged values and any unknown write', () => {
    const answer = search(
      { kind: 'hits', hits: [hit('k1', 'c0:2'), hit('k2', 'c1:1')], missingShards: null },
      40,
      50,
    )
    expect(searchViolations([answer], history, shardOf)).toEqual([])
    const withUnknown = search(
      { kind: 'hits', hits: [hit('k1', 'c0:2'), hit('k2', 'c1:1'), hit('k3', 'c2:1')], missingShards: null },
      40,
      50,
    )
    expect(searchViolations([withUnknown], history, shardOf)).toEqual([])
  })

  it('catch a document acknowledged before the search that is missing, unless its shard is named missing', () => {
    const incomplete = search({ kind: 'hits', hits: [hit('k1', 'c0:2')], missingShards: null }, 40, 50)
    expect(searchViolations([incomplete], history, shardOf)).toEqual([
      'strong search through n1 [40, 50] ms: k2 should be c1:1, got no hit',
    ])
    const partial = search({ kind: 'hits', hits: [hit('k1', 'c0:2')], missingShards: [0] }, 40, 50, {
      allowPartial: true,
    })
    expect(searchViolations([partial], history, shardOf)).toEqual([])
  })

  it('catch a value older than a write acknowledged before the search began', () => {
    const stale = search(
      { kind: 'hits', hits: [hit('k1', 'c0:1'), hit('k2', 'c1:1')], missingShards: null },
      40,
      50,
    )
    expect(searchViolations([stale], history, shardOf)).toContain(
      'strong search through n1 [40, 50] ms: k1 = c0:1, though c0:2 was acknowledged at 30 ms',
    )
    // During the second write, either value may show.
    const during = search(
      { kind: 'hits', hits: [hit('k1', 'c0:1'), hit('k2', 'c1:1')], missingShards: null },
      22,
      28,
    )
    expect(searchViolations([during], history, shardOf)).toEqual([])
  })

  it('catch a value never written, or written by a write that failed (left out of the history)', () => {
    const phantom = search(
      { kind: 'hits', hits: [hit('k1', 'c0:2'), hit('k2', 'c9:9')], missingShards: null },
      40,
      50,
    )
    expect(searchViolations([phantom], history, shardOf)).toContain(
      'strong search through n1 [40, 50] ms: k2 = c9:9, a value never written or whose write failed',
    )
  })

  it('hold a filtered search to the markers of the values settled before it', () => {
    const marker = markerOf('c0:2')
    const wrong = search({ kind: 'hits', hits: [], missingShards: null }, 40, 50, { filter: marker })
    const expected = [
      `strong search for marker ${marker} through n1 [40, 50] ms: k1 should be c0:2, got no hit`,
    ]
    if (markerOf('c1:1') === marker)
      expected.push(
        `strong search for marker ${marker} through n1 [40, 50] ms: k2 should be c1:1, got no hit`,
      )
    expect(searchViolations([wrong], history, shardOf)).toEqual(expected)
  })

  it('allow only 503 shards_unavailable or cluster_unavailable as a refusal, and count each kind', () => {
    const records = [
      search({ kind: 'unavailable', code: 'shards_unavailable' }, 1, 2),
      search({ kind: 'unexpected', answer: '503 RAFT_NOT_LEADER' }, 3, 4),
      search({ kind: 'lost', reason: 'TimeoutError' }, 5, 6),
      search({ kind: 'lost', reason: 'connection refused' }, 7, 8),
    ]
    expect(searchViolations(records, history, shardOf)).toEqual([
      'strong search through n1 [3, 4] ms answered 503 RAFT_NOT_LEADER',
    ])
    expect(searchCounts(records)).toEqual({ shards_unavailable: 1, unexpected: 1, lost: 1, refused: 1 })
  })

  it('skip completeness for eventual searches but still refuse values never written', () => {
    const eventual = search({ kind: 'hits', hits: [hit('k2', 'c7:7')], missingShards: null }, 40, 50, {
      consistency: 'eventual',
    })
    expect(searchViolations([eventual], history, shardOf)).toEqual([
      'eventual search through n1 [40, 50] ms: k2 = c7:7, a value never written or whose write failed',
    ])
  })
})
