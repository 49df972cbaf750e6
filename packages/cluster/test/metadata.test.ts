import type { NormalEntry } from '@shoal/raft'
import { describe, expect, it } from 'vitest'
import {
  encodeCommand,
  isMetadataCommand,
  type MetadataCommand,
  MetadataStateMachine,
  type NodeAdvert,
  shardGroupOf,
  shardNameOf,
} from '../src/index.ts'

const advert: NodeAdvert = {
  id: 'n1',
  name: 'one',
  p2pAddrs: ['/ip4/127.0.0.1/tcp/1'],
  httpAddr: '127.0.0.1:7700',
  gossipAddr: '127.0.0.1:7946',
  region: 'r',
  zone: 'z',
  capabilities: ['bm25'],
  version: '0.1.0',
}

let index = 0
function entry(command: MetadataCommand | Uint8Array): NormalEntry {
  index++
  return {
    kind: 'normal',
    term: 1,
    index,
    data: command instanceof Uint8Array ? command : encodeCommand(command),
  }
}

describe('the metadata state machine', () => {
  it('bumps the version by one for every accepted command and not for a refused one', () => {
    const sm = new MetadataStateMachine()
    expect(sm.apply(entry({ type: 'setting.put', key: 'k', value: 'v' }))).toMatchObject({
      ok: false,
      reason: 'not_initialised',
    })
    expect(sm.apply(entry({ type: 'init', clusterId: 'c1', name: 'test', atMs: 1 }))).toEqual({
      ok: true,
      version: 1,
    })
    expect(sm.apply(entry({ type: 'init', clusterId: 'c2', name: 'other', atMs: 2 }))).toMatchObject({
      ok: false,
      reason: 'already_initialised',
      version: 1,
    })
    expect(sm.apply(entry({ type: 'node.join', node: advert, atMs: 3 }))).toEqual({ ok: true, version: 2 })
    expect(
      sm.apply(entry({ type: 'node.state', nodeId: 'n1', state: 'dead', ifState: ['draining'], atMs: 4 })),
    ).toMatchObject({
      ok: false,
      reason: 'precondition_failed',
    })
    expect(
      sm.apply(entry({ type: 'node.state', nodeId: 'n1', state: 'dead', ifState: ['active'], atMs: 4 })),
    ).toEqual({ ok: true, version: 3 })
    expect(sm.state.nodes.n1?.state).toBe('dead')
    expect(sm.apply(entry({ type: 'node.join', node: advert, atMs: 5 }))).toEqual({ ok: true, version: 4 })
    expect(sm.state.nodes.n1?.state).toBe('active')
    expect(sm.apply(entry({ type: 'index.delete', uid: 'missing' }))).toMatchObject({
      ok: false,
      reason: 'unknown_index',
      version: 4,
    })
  })

  it('changes an index replication factor with index.update, and nothing else of its sharding', () => {
    const sm = new MetadataStateMachine()
    sm.apply(entry({ type: 'init', clusterId: 'c1', name: 'test', atMs: 1 }))
    sm.apply(entry({ type: 'node.join', node: advert, atMs: 2 }))
    const sharding = { shardCount: 2, replicationFactor: 1, strategy: 'hash' as const }
    const shards = [0, 1].map((shard) => ({
      shard,
      replicas: [{ nodeId: 'n1', role: 'voter' as const, state: 'active' as const }],
    }))
    expect(
      sm.apply(
        entry({
          type: 'index.create',
          index: { uid: 'i', primaryKey: null, settings: {}, sharding },
          shards,
          atMs: 3,
        }),
      ),
    ).toMatchObject({ ok: true })
    expect(sm.apply(entry({ type: 'index.update', uid: 'i', replicationFactor: 3, atMs: 4 }))).toMatchObject({
      ok: true,
    })
    expect(sm.state.indexes.i?.sharding).toEqual({ shardCount: 2, replicationFactor: 3, strategy: 'hash' })
    expect(sm.apply(entry({ type: 'index.update', uid: 'i', replicationFactor: 0, atMs: 5 }))).toMatchObject({
      ok: false,
      reason: 'malformed',
    })
  })

  it('treats undecodable and malformed entries as refused commands, changing nothing', () => {
    const sm = new MetadataStateMachine()
    sm.apply(entry({ type: 'init', clusterId: 'c1', name: 'test', atMs: 1 }))
    const before = sm.state
    expect(sm.apply(entry(new Uint8Array([0xc1, 0xff, 0x00])))).toMatchObject({
      ok: false,
      reason: 'malformed',
    })
    expect(
      sm.apply(entry(encodeCommand({ type: 'constructor' } as unknown as MetadataCommand))),
    ).toMatchObject({ ok: false, reason: 'malformed' })
    expect(
      sm.apply(entry(encodeCommand({ type: 'node.join', node: { id: 7 } } as unknown as MetadataCommand))),
    ).toMatchObject({
      ok: false,
      reason: 'malformed',
    })
    expect(sm.state).toBe(before)
  })

  it('refuses command types that are members of Object.prototype', () => {
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty'])
      expect(isMetadataCommand({ type })).toBe(false)
  })

  it('restores a snapshot to the same state and applied index', () => {
    const sm = new MetadataStateMachine()
    sm.apply(entry({ type: 'init', clusterId: 'c1', name: 'test', atMs: 1 }))
    sm.apply(entry({ type: 'setting.put', key: 'a', value: 'b' }))
    const image = sm.snapshot()
    const copy = new MetadataStateMachine()
    copy.restore(image)
    expect(copy.state).toEqual(sm.state)
    expect(copy.appliedIndex).toBe(sm.appliedIndex)
    expect(() => copy.restore(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(/bad magic/)
  })

  it('swaps and renames indexes all or nothing: shards keep their names, ended tasks follow', () => {
    const sm = new MetadataStateMachine()
    const sharding = { shardCount: 1, replicationFactor: 1, strategy: 'hash' as const }
    const shards = [
      { shard: 0, replicas: [{ nodeId: 'n1', role: 'voter' as const, state: 'active' as const }] },
    ]
    sm.apply(entry({ type: 'init', clusterId: 'c1', name: 'test', atMs: 1 }))
    for (const [uid, atMs] of [
      ['a', 10],
      ['b', 20],
    ] as const)
      sm.apply(
        entry({
          type: 'index.create',
          index: { uid, primaryKey: 'id', settings: {}, sharding },
          shards,
          atMs,
        }),
      )
    const task = (indexUid: string, status: string) =>
      sm.apply(entry({ type: 'task.enqueue', task: { status, indexUid }, atMs: 30 })) as { value: number }
    const endedOnA = task('a', 'succeeded').value
    const queuedForA = task('a', 'enqueued').value
    const swapTask = task('a', 'processing').value
    const laterForB = task('b', 'enqueued').value

    // A refused pair refuses the whole command, naming the index it is about.
    const before = sm.state
    for (const [swaps, reason, subject] of [
      [
        [
          { indexes: ['a', 'b'], rename: false },
          { indexes: ['zz', 'c'], rename: true },
        ],
        'unknown_index',
        'zz',
      ],
      [[{ indexes: ['a', 'b'], rename: true }], 'index_exists', 'b'],
      [[{ indexes: ['a', 'c'], rename: false }], 'unknown_index', 'c'],
      [
        [
          { indexes: ['a', 'b'], rename: false },
          { indexes: ['b', 'c'], rename: true },
        ],
        'malformed',
        'b',
      ],
    ] as const) {
      expect(
        sm.apply(entry({ type: 'index.swap', swaps: swaps as never, taskUid: swapTask, atMs: 40 })),
      ).toMatchObject({ ok: false, reason, subject })
      expect(sm.state).toBe(before)
    }

    expect(
      sm.apply(
        entry({
          type: 'index.swap',
          swaps: [{ indexes: ['a', 'b'], rename: false }],
          taskUid: swapTask,
          atMs: 50,
        }),
      ),
    ).toMatchObject({ ok: true })
    expect(sm.state.indexes.a).toMatchObject({ uid: 'a', createdAtMs: 20, updatedAtMs: 50 })
    expect(shardNameOf(sm.state.indexes.a!)).toBe('b')
    expect(shardNameOf(sm.state.indexes.b!)).toBe('a')
    expect(sm.task(endedOnA)?.indexUid).toBe('b')
    expect(sm.task(queuedForA)?.indexUid).toBe('a')
    expect(sm.task(laterForB)?.indexUid).toBe('b')

    // Rename b (whose shards are named a) to c; a new index a does not take c's shard groups.
    sm.apply(
      entry({
        type: 'index.swap',
        swaps: [{ indexes: ['b', 'c'], rename: true }],
        taskUid: swapTask,
        atMs: 60,
      }),
    )
    expect(sm.state.indexes.b).toBeUndefined()
    expect(sm.state.shards.c).toEqual(shards)
    const c = sm.state.indexes.c!
    expect(shardGroupOf(shardNameOf(c), c.createdAtMs, 0)).toBe('shard/a/10/0')
    sm.apply(
      entry({
        type: 'index.swap',
        swaps: [{ indexes: ['a', 'd'], rename: true }],
        taskUid: swapTask,
        atMs: 70,
      }),
    )
    expect(
      sm.apply(
        entry({
          type: 'index.create',
          index: { uid: 'a', primaryKey: 'id', settings: {}, sharding },
          shards,
          atMs: 10,
        }),
      ),
    ).toMatchObject({ ok: false, reason: 'index_exists' })
    expect(
      sm.apply(
        entry({
          type: 'index.create',
          index: { uid: 'a', primaryKey: 'id', settings: {}, sharding },
          shards,
          atMs: 80,
        }),
      ),
    ).toMatchObject({ ok: true })
    expect(
      isMetadataCommand({
        type: 'index.swap',
        swaps: [{ indexes: ['x', 'x'], rename: false }],
        taskUid: 1,
        atMs: 1,
      }),
    ).toBe(false)
    expect(isMetadataCommand({ type: 'index.swap', swaps: [], taskUid: 1, atMs: 1 })).toBe(false)
  })
})
