import { ClusterTimeoutError, NoLeaderError } from '@shoal/cluster'
import { NotLeaderError, ProposalDroppedError, RaftTimeoutError } from '@shoal/raft'
import { WalFailedError } from '@shoal/wal'
import { describe, expect, it } from 'vitest'
import { toErrorResponse } from '../src/internal/errors.ts'

describe('errors of the replication layer', () => {
  it('answer 503 cluster_unavailable (retriable), never 500', () => {
    for (const error of [
      new ProposalDroppedError(7),
      new NotLeaderError('n2'),
      new RaftTimeoutError('proposal to group g timed out'),
      new NoLeaderError(),
      new ClusterTimeoutError('the metadata leader did not answer'),
    ]) {
      const response = toErrorResponse(error)
      expect(response.status, error.name).toBe(503)
      expect(response.body.code).toBe('cluster_unavailable')
      expect(response.internal).toBe(false)
    }
  })

  it('answer a full disk with 507 no_space_left_on_device, also when it caused a WAL failure', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    for (const error of [full, new WalFailedError('WAL write or sync failed', { cause: full })]) {
      const response = toErrorResponse(error)
      expect(response.status).toBe(507)
      expect(response.body).toMatchObject({ code: 'no_space_left_on_device', type: 'system' })
      expect(response.internal).toBe(false)
    }
  })

  it('keeps unknown errors as internal 500s', () => {
    expect(toErrorResponse(new Error('boom')).status).toBe(500)
  })
})
