import type { ClusterNode, ShardHosting } from '@shoal/cluster'
import { NotLeaderError, RaftError } from '@shoal/raft'
import { describe, expect, it } from 'vitest'
import { serveShards } from '../src/internal/cluster/shard-rpc.ts'

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
