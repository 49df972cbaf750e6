import type { NormalEntry } from '@shoal/raft'
import { describe, expect, it } from 'vitest'
import {
  encodeCommand,
  InvalidShardingError,
  MAX_ENDED_TASKS,
  type MetadataCommand,
  MetadataStateMachine,
  type NodeAdvert,
  planIndexPlacement,
  shardOfDocument,
} from '../src/index.ts'

function advert(id: string, zone: string): NodeAdvert {
  return {
    id,
    name: id,
    p2pAddrs: [],
    httpAddr: '127.0.0.1:1',
    gossipAddr: '127.0.0.1:2',
    region: 'r',
    zone,
    capabilities: ['bm25', 'vector'],
    version: '0.1.0',
  }
}

let logIndex = 0
function entry(command: MetadataCommand): NormalEntry {
  return { kind: 'normal', term: 1, index: ++logIndex, data: encodeCommand(command) }
}

function cluster(nodes: number): MetadataStateMachine {
  const sm = new MetadataStateMachine()
  sm.apply(entry({ type: 'init', clusterId: 'c', name: 'c', atMs: 1 }))
  for (let i = 0; i < nodes; i++)
    sm.apply(entry({ type: 'node.join', node: advert(`n${i}`, `z${i % 3}`), atMs: 2 }))
  return sm
}

describe('placing a sharded index', () => {
  it('defaults to one shard per data node (at most 16) and min(3, nodes) replicas, in distinct zones', () => {
    const plan = planIndexPlacement(cluster(4).state, 'docs', undefined)
    expect(plan.sharding).toEqual({ shardCount: 4, replicationFactor: 3, strategy: 'hash' })
    for (const shard of plan.shards) {
      expect(new Set(shard.replicas.map((r) => r.nodeId)).size).toBe(3)
      expect(shard.founders).toEqual(shard.replicas.map((r) => r.nodeId))
    }
    expect(planIndexPlacement(cluster(1).state, 'docs', {}).sharding).toEqual({
      shardCount: 1,
      replicationFactor: 1,
      strategy: 'hash',
    })
  })

  it('refuses what it cannot place or does not know, with a typed error', () => {
    const state = cluster(3).state
    for (const bad of [
      { replicationFactor: 4 },
      { shardCount: 0 },
      { shardCount: 1.5 },
      { shardCount: '6' },
      { strategy: 'range' },
      { shards: 3 },
    ]) {
      expect(() => planIndexPlacement(state, 'docs', bad)).toThrow(InvalidShardingError)
    }
    expect(() => planIndexPlacement(state, 'docs', { replicationFactor: 4 })).toThrow(/exceeds the 3 active/)
  })

  it('records the index and its shard map in one command', () => {
    const sm = cluster(3)
    const plan = planIndexPlacement(sm.state, 'docs', { shardCount: 6 })
    const outcome = sm.apply(
      entry({
        type: 'index.create',
        index: { uid: 'docs', primaryKey: 'id', settings: {}, sharding: plan.sharding },
        shards: plan.shards,
        atMs: 5,
      }),
    )
    expect(outcome).toMatchObject({ ok: true })
    expect(sm.state.shards.docs).toHaveLength(6)
    expect(sm.state.indexes.docs?.sharding.shardCount).toBe(6)
  })

  it('routes a document by its primary key, numbers and their text alike', () => {
    expect(shardOfDocument(42, 6)).toBe(shardOfDocument('42', 6))
    const counts = new Array(6).fill(0)
    for (let i = 0; i < 6000; i++) counts[shardOfDocument(`doc-${i}`, 6)]++
    for (const count of counts) expect(count).toBeGreaterThan(800)
  })
})

describe('the cluster-wide task list', () => {
  it('assigns increasing uids, compare-and-sets status, keeps payloads until the task ends', () => {
    const sm = cluster(1)
    const payload = new Uint8Array([1, 2, 3])
    const first = sm.apply(
      entry({ type: 'task.enqueue', task: { status: 'enqueued', indexUid: 'docs' }, payload, atMs: 1 }),
    )
    const second = sm.apply(
      entry({ type: 'task.enqueue', task: { status: 'enqueued', indexUid: null }, atMs: 1 }),
    )
    expect(first).toMatchObject({ ok: true, value: 0 })
    expect(second).toMatchObject({ ok: true, value: 1 })
    expect([...(sm.taskPayload(0) ?? [])]).toEqual([...payload])
    expect(
      sm.apply(
        entry({ type: 'task.update', uid: 0, ifStatus: ['processing'], patch: { status: 'succeeded' } }),
      ),
    ).toMatchObject({ ok: false, reason: 'precondition_failed' })
    sm.apply(entry({ type: 'task.update', uid: 0, patch: { status: 'succeeded' }, dropPayload: true }))
    expect(sm.task(0)?.status).toBe('succeeded')
    expect(sm.taskPayload(0)).toBeUndefined()
    // The image carries the task list.
    const copy = new MetadataStateMachine()
    copy.restore(sm.snapshot())
    expect([...copy.tasks()].map((t) => t.uid)).toEqual([0, 1])
    expect(copy.nextTaskUid).toBe(2)
    expect(sm.apply(entry({ type: 'task.delete', uids: [0, 7] }))).toMatchObject({ ok: true, value: 1 })
    expect(sm.task(0)).toBeUndefined()
    expect(sm.apply(entry({ type: 'task.update', uid: 9, patch: { status: 'failed' } }))).toMatchObject({
      ok: false,
      reason: 'unknown_task',
    })
  })

  it('forgets the oldest ended tasks beyond the retention limit, never an unfinished one', () => {
    const sm = cluster(1)
    sm.apply(entry({ type: 'task.enqueue', task: { status: 'enqueued', indexUid: null }, atMs: 1 }))
    for (let i = 0; i < MAX_ENDED_TASKS + 5; i++)
      sm.applyCommand({ type: 'task.enqueue', task: { status: 'succeeded', indexUid: null }, atMs: 1 })
    const uids = [...sm.tasks()].map((t) => t.uid)
    expect(uids[0]).toBe(0)
    expect(uids).toHaveLength(MAX_ENDED_TASKS + 1)
    expect(uids[1]).toBe(6)
  })
})
