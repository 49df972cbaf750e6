import type { ClusterNode, ShardHosting } from '@shoal/cluster'
import { NotLeaderError, RaftError } from '@shoal/raft'
import { describe, expect, it } from 'vitest'
import { attemptTimeoutMs, MIN_ATTEMPT_MS } from '../src/internal/cluster/shard-read-attempts.ts'
import { readShards, serveShards } from '../src/internal/cluster/shard-rpc.ts'

// A shard leader serves a strong read only after a ReadIndex round confirms it still leads. When
// the round fails (a partition or a pause deposed it meanwhile, or no majority answers in time),
// the replica answers `not_leader`, which the reading node takes as "try another replica" — so a
// search ends with its hits or with 503 `shards_unavailable`, never with the Raft error's own code
// (found by `pnpm chaos --system shoal-shards --scenario partition-leader --seed 1`: searches
// answered 503 `RAFT_NOT_LEADER` of type `invalid_request`). The Raft member and the shard's
// engine are stand-ins here: the case needs a leadership lost inside one read.

function replicaWhoseReadFails(error: unknown, leaderAfter: string | null) {
  let leader: string | null = 'n1'
  const raft = {
    get leader() {
      return leader
    },
    wake() {},
    async read() {
      leader = leaderAfter
      throw error
    },
    status: () => ({ role: 'follower', leader, term: 2, appliedIndex: 7, commitIndex: 7 }),
  }
  const node = { nodeId: 'n1', host: { group: () => raft } } as unknown as ClusterNode
  const engine = { index: () => ({ search: () => ({ hits: [] }) }) }
  const hosting = { machine: () => ({ engine }) } as unknown as ShardHosting
  return { node, hosting }
}

const request = {
  kind: 'shards' as const,
  mode: 'leader' as const,
  items: [{ group: 'idx/0', indexUid: 'idx', call: { action: 'search' as const, params: { q: '' } } }],
}

describe('a strong shard read whose ReadIndex round fails', () => {
  it('answers not_leader with no hint when no leader is known, so the reader tries the next replica', async () => {
    const { node, hosting } = replicaWhoseReadFails(new NotLeaderError(null), null)
    const [reply] = await serveShards(node, hosting, request)
    expect(reply).toMatchObject({ ok: false, code: 'not_leader', httpStatus: 503, leader: null })
  })

  it('passes on the new leader it learned of as the hint', async () => {
    const { node, hosting } = replicaWhoseReadFails(new NotLeaderError('n2'), 'n2')
    const [reply] = await serveShards(node, hosting, request)
    expect(reply).toMatchObject({ ok: false, code: 'not_leader', httpStatus: 503, leader: 'n2' })
  })

  it('treats a round that timed out (no majority) the same way', async () => {
    const { node, hosting } = replicaWhoseReadFails(new RaftError('RAFT_TIMEOUT', 'read timed out'), 'n1')
    const [reply] = await serveShards(node, hosting, request)
    expect(reply).toMatchObject({ ok: false, code: 'not_leader', httpStatus: 503, leader: null })
  })
})

// After a shard leader dies, a replica that refused a strong read (no leader known) may win the
// election a moment later while another replica already names it leader. The reader must ask it
// again: it used to skip a replica it had tried and keep asking the one naming it until the read's
// deadline (10 s), which held a task's write that long after the election (`pnpm bench failover`).
describe('a strong shard read during an election', () => {
  it('asks again a replica that refused earlier once another replica names it leader', async () => {
    const asked: string[] = []
    let elected = false
    const node = {
      nodeId: 'reader',
      electionTimeoutMs: 1_000,
      host: { group: () => undefined },
      isAlive: () => true,
      async requestApp(to: string) {
        asked.push(to)
        if (to === 'a' && elected) return [{ ok: true, value: 'hits', appliedIndex: 3, commitIndex: 3 }]
        // `a` has no leader yet and then wins; `b` already follows it.
        if (to === 'a') {
          elected = true
          return [{ ok: false, code: 'not_leader', message: 'no leader', httpStatus: 503, leader: null }]
        }
        return [{ ok: false, code: 'not_leader', message: 'not leader', httpStatus: 503, leader: 'a' }]
      },
    } as unknown as ClusterNode
    const target = { shard: 0, group: 'idx/0', name: 'idx', holders: ['a', 'b'] }
    const started = performance.now()
    const { results, missing } = await readShards(
      node,
      {} as ShardHosting,
      [{ target, call: { action: 'search', params: { q: '' } } }],
      { mode: 'leader', timeoutMs: 5_000 },
    )
    expect(missing).toEqual([])
    expect(results.map((r) => r.value)).toEqual(['hits'])
    expect(asked).toEqual(['a', 'b', 'a'])
    // Well before the 5 s deadline a read kept waiting on a refusing replica would run into.
    expect(performance.now() - started).toBeLessThan(4_000)
  })
})

// Issue 17: a shard leader that stops answering with its connection open (a paused or starved
// process) held a strong read for the whole deadline. Each attempt now has its own time-out; the
// read then asks the other replicas, which name the new leader.
describe('a strong shard read whose leader stops answering', () => {
  const target = { shard: 0, group: 'idx/0', name: 'idx', holders: ['a', 'b', 'c'] }
  const call = { action: 'search' as const, params: { q: '' } }
  const ok = (value: string) => [{ ok: true, value, appliedIndex: 3, commitIndex: 3 }]

  function readerOf(answer: (to: string) => Promise<unknown>) {
    const asked: string[] = []
    const node = {
      nodeId: 'reader',
      electionTimeoutMs: 200,
      host: { group: () => undefined },
      isAlive: () => true,
      requestApp(to: string) {
        asked.push(to)
        return answer(to)
      },
    } as unknown as ClusterNode
    return { node, asked }
  }

  it('asks again after the attempt time-out and reads the shard at the leader another replica names', async () => {
    let release: (() => void) | undefined
    const { node, asked } = readerOf(async (to) => {
      if (to === 'a') {
        // Silent until the test ends; then its (stale) answer must not count.
        await new Promise<void>((resolve) => (release = resolve))
        return ok('late from a')
      }
      if (to === 'b')
        return [{ ok: false, code: 'not_leader', message: 'not leader', httpStatus: 503, leader: 'c' }]
      return ok('from c')
    })
    const started = performance.now()
    const { results, missing } = await readShards(node, {} as ShardHosting, [{ target, call }], {
      mode: 'leader',
      timeoutMs: 5_000,
    })
    release?.()
    expect(missing).toEqual([])
    expect(results.map((r) => r.value)).toEqual(['from c'])
    // `a` was not asked again while its first attempt ran.
    expect(asked).toEqual(['a', 'b', 'c'])
    expect(performance.now() - started).toBeLessThan(4_000)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(results).toHaveLength(1)
  })

  it('still takes the answer of an attempt that came after its time-out when no other replica can serve', async () => {
    const { node, asked } = readerOf(async (to) => {
      if (to === 'a') {
        await new Promise((resolve) => setTimeout(resolve, 700))
        return ok('late from a')
      }
      return [{ ok: false, code: 'not_leader', message: 'not leader', httpStatus: 503, leader: 'a' }]
    })
    const { results, missing } = await readShards(node, {} as ShardHosting, [{ target, call }], {
      mode: 'leader',
      timeoutMs: 5_000,
    })
    expect(missing).toEqual([])
    expect(results.map((r) => r.value)).toEqual(['late from a'])
    expect(asked.filter((to) => to === 'a')).toHaveLength(1)
  })

  it('derives the attempt time-out from the election timeout, within the time left', () => {
    expect(attemptTimeoutMs(2_000, 10_000)).toBe(2_000)
    expect(attemptTimeoutMs(2_000, 700)).toBe(700)
    expect(attemptTimeoutMs(100, 10_000)).toBe(MIN_ATTEMPT_MS)
    expect(attemptTimeoutMs(2_000, -5)).toBe(1)
  })
})
