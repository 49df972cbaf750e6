import { ClusterTimeoutError, NoLeaderError } from '@shoal/cluster'
import { NotLeaderError, ProposalDroppedError, RaftTimeoutError } from '@shoal/raft'
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

  it('keeps unknown errors as internal 500s', () => {
    expect(toErrorResponse(new Error('boom')).status).toBe(500)
  })
})
