import type { ConfState } from '@shoal/raft'
import { describe, expect, it } from 'vitest'
import { type MetaPlanInput, type NodeRecord, type PlanNode, planMetaChange } from '../src/index.ts'

function node(
  id: string,
  options: { alive?: boolean; deadSinceMs?: number; zone?: string; state?: NodeRecord['state'] } = {},
): PlanNode {
  const record: NodeRecord = {
    id,
    name: id,
    p2pAddrs: [],
    httpAddr: '',
    gossipAddr: '',
    region: '',
    zone: options.zone ?? 'z1',
    capabilities: [],
    version: '',
    state: options.state ?? 'active',
    joinedAtMs: 0,
    updatedAtMs: 0,
  }
  const alive = options.alive ?? true
  return { record, alive, ...(alive ? {} : { deadSinceMs: options.deadSinceMs ?? 0 }) }
}

function plan(conf: ConfState, nodes: PlanNode[], nowMs = 1_000): ReturnType<typeof planMetaChange> {
  const input: MetaPlanInput = {
    conf,
    nodes,
    followers: nodes.map((n) => ({
      id: n.record.id,
      match: 10,
      next: 11,
      state: 'replicate',
      learner: false,
      lag: 0,
    })),
    leaderId: 'a',
    nowMs,
    maxVoters: 5,
    deadVoterGraceMs: 10_000,
    caughtUpEntries: 16,
  }
  return planMetaChange(input)
}

describe('the metadata membership planner', () => {
  it('keeps all three voters while one node is down for less than the grace period', () => {
    const conf = { voters: ['a', 'b', 'c'], learners: [] }
    expect(
      plan(conf, [node('a'), node('b'), node('c', { alive: false, state: 'dead', deadSinceMs: 0 })], 5_000),
    ).toBeNull()
  })

  it('never removes a dead voter without a live replacement, even past the grace period', () => {
    const conf = { voters: ['a', 'b', 'c'], learners: [] }
    expect(
      plan(conf, [node('a'), node('b'), node('c', { alive: false, state: 'dead', deadSinceMs: 0 })], 60_000),
    ).toBeNull()
  })

  it('promotes a caught-up learner before it removes a voter dead past the grace period', () => {
    const nodes = [
      node('a'),
      node('b'),
      node('c', { alive: false, state: 'dead', deadSinceMs: 0 }),
      node('d', { zone: 'z2' }),
    ]
    expect(plan({ voters: ['a', 'b', 'c'], learners: ['d'] }, nodes, 60_000)).toEqual({
      type: 'addVoter',
      node: 'd',
    })
    expect(plan({ voters: ['a', 'b', 'c', 'd'], learners: [] }, nodes, 60_000)).toEqual({
      type: 'remove',
      node: 'c',
    })
  })

  it('adds every live node as a learner and grows to five voters spread across zones', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => node(id, { zone: `z${i % 3}` }))
    expect(plan({ voters: ['a'], learners: [] }, nodes)).toEqual({ type: 'addLearner', node: 'b' })
    const change = plan({ voters: ['a', 'b', 'c'], learners: ['d', 'e', 'f'] }, nodes)
    expect(change?.type).toBe('addVoter')
    expect(plan({ voters: ['a', 'b', 'c', 'd', 'e'], learners: ['f'] }, nodes)).toBeNull()
  })

  it('removes a surplus live voter, never the leader, once a dead voter has come back after its replacement', () => {
    const nodes = [node('a'), node('b'), node('c'), node('d')]
    const change = plan({ voters: ['a', 'b', 'c', 'd'], learners: [] }, nodes)
    expect(change?.type).toBe('remove')
    expect(change?.node).not.toBe('a')
  })
})
