import type { NormalEntry } from '@shoal/raft'
import { describe, expect, it } from 'vitest'
import {
  encodeCommand,
  isMetadataCommand,
  type MetadataCommand,
  MetadataStateMachine,
  type NodeAdvert,
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
})
