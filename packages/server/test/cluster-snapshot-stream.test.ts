import { ClusterNode, MemoryIdentityStore } from '@shoal/cluster'
import { type ConfState, initialState, MemoryRaftStorage, type RaftStorage, seededRng } from '@shoal/raft'
import { LOCAL, MemoryNetwork, SwimNode, seededRandom } from '@shoal/swim'
import { waitFor } from '@shoal/testkit/wait'
import { afterEach, describe, expect, it } from 'vitest'
import { p2pTransport, serveP2P } from '../src/internal/cluster/runtime.ts'
import { MAX_SNAPSHOT_MESSAGE_BYTES } from '../src/internal/cluster/wire-validate.ts'
import { type P2PNode, P2PRemoteError, SNAPSHOT_PROTOCOL } from '../src/internal/p2p/index.ts'
import { metricValue, P2PCluster } from './p2p-harness.ts'

// Raft snapshots travel over `/shoal/snapshot/1`, not inside Raft frames
// (issue 16, "Shard replicas"): on real libp2p nodes whose frames are capped
// far below the size of the metadata image, a node that joins after the log
// was compacted still catches up by snapshot plus log.

const MAX_FRAME_BYTES = 32 * 1024

let p2p: P2PCluster | undefined
const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => {})
  await p2p?.close()
  p2p = undefined
})

interface Member {
  readonly p2p: P2PNode
  readonly node: ClusterNode
  readonly dropped: { invalidFrames: number; invalidSnapshots: number; oversizedFrames: number }
}

async function member(
  cluster: P2PCluster,
  gossip: MemoryNetwork,
  name: string,
  role: { bootstrap?: boolean; seeds?: string[] },
): Promise<Member> {
  const transport = await cluster.node({ maxFrameBytes: MAX_FRAME_BYTES })
  const id = transport.peerId
  const swim = new SwimNode({
    id,
    transport: gossip.createTransport(`gossip:${name}`),
    config: { ...LOCAL, probeIntervalMs: 200, probeTimeoutMs: 100, suspicionMult: 2 },
    seeds: role.seeds ?? [],
    tickMs: 5,
    randomSeed: name.charCodeAt(0),
  })
  await swim.start()
  stops.push(() => swim.stop())
  const dropped = { invalidFrames: 0, invalidSnapshots: 0, oversizedFrames: 0 }
  const storages = new Map<string, RaftStorage>()
  const node = new ClusterNode({
    advert: {
      id,
      name,
      p2pAddrs: transport.multiaddrs(),
      httpAddr: `127.0.0.1:1`,
      gossipAddr: `gossip:${name}`,
      region: 'r1',
      zone: 'z1',
      capabilities: ['bm25', 'vector'],
      version: '0.1.0',
    },
    identity: new MemoryIdentityStore(),
    transport: p2pTransport(transport, { oversizedFrame: () => dropped.oversizedFrames++ }),
    membership: swim,
    raftStorage: (group: string, bootstrap: ConfState | undefined) => {
      const store =
        storages.get(group) ?? new MemoryRaftStorage(initialState(bootstrap ?? { voters: [], learners: [] }))
      storages.set(group, store)
      return store
    },
    tickMs: 20,
    raftRng: (group) => seededRng(`${name}:${group}`),
    // Appends stay well under the frame cap; the snapshot chunk (1 MiB by default) does not.
    raft: { electionTicks: 10, maxMessageBytes: 2048 },
    controller: { reconcileIntervalMs: 50, deadVoterGraceMs: 1_000 },
    metaSnapshotEntries: 8,
    discoverTimeoutMs: 10_000,
    joining: role.seeds !== undefined,
    ...(role.bootstrap === true ? { bootstrap: { clusterName: 'test', clusterId: 'snap-1' } } : {}),
  })
  serveP2P(transport, node, {
    invalidFrame: () => dropped.invalidFrames++,
    invalidSnapshot: () => dropped.invalidSnapshots++,
  })
  await node.start()
  stops.push(() => node.stop())
  return { p2p: transport, node, dropped }
}

async function* bytes(...pieces: Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const piece of pieces) yield piece
}

describe('Raft snapshots over /shoal/snapshot/1', () => {
  it('a node joining after compaction catches up by a snapshot larger than maxFrameBytes', async () => {
    p2p = new P2PCluster()
    const gossip = new MemoryNetwork({ latencyMs: { min: 0, max: 1 }, random: seededRandom(7) })
    const a = await member(p2p, gossip, 'a', { bootstrap: true })
    await waitFor('the cluster initialised', () => a.node.state().clusterId === 'snap-1')
    const value = 'v'.repeat(1500)
    for (let i = 0; i < 60; i++) {
      const outcome = await a.node.propose({ type: 'setting.put', key: `k${i}`, value: `${i}:${value}` })
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true })
    }
    await waitFor('the log compacted', () => (a.node.metaRaft?.status().snapshotIndex ?? 0) > 40)
    const late = await member(p2p, gossip, 'late', { seeds: ['gossip:a'] })
    await waitFor('the late node caught up', () => late.node.state().settings.k59 === `59:${value}`, {
      timeoutMs: 30_000,
    })
    // The controller keeps recording the new member meanwhile; the copies converge.
    await waitFor('the same metadata version', () => late.node.state().version === a.node.state().version)
    expect(Object.keys(late.node.state().settings)).toHaveLength(60)
    // The image (60 settings of 1.5 KB) crossed the snapshot protocol, more than one frame could hold.
    const streamed = await metricValue(a.p2p, 'shoal_p2p_bytes_sent_total', { protocol: SNAPSHOT_PROTOCOL })
    expect(streamed).toBeGreaterThan(60 * 1500)
    expect(streamed).toBeGreaterThan(MAX_FRAME_BYTES)
    expect(late.node.host?.metrics().snapshotsReceived).toBeGreaterThan(0)
    expect(a.node.host?.metrics().snapshotsSent).toBeGreaterThan(0)
    expect(a.dropped.oversizedFrames).toBe(0)
    expect(late.dropped.invalidSnapshots).toBe(0)
  })

  it('refuses, and counts, a snapshot stream whose header is malformed, speaks for another peer, or whose bytes differ from it', async () => {
    p2p = new P2PCluster()
    const gossip = new MemoryNetwork({ latencyMs: { min: 0, max: 1 }, random: seededRandom(8) })
    const a = await member(p2p, gossip, 'a', { bootstrap: true })
    const stranger = await p2p.node({ maxFrameBytes: MAX_FRAME_BYTES })
    const header = (from: string, chunkBytes: number, clusterId = 'snap-1', totalBytes = 16) => ({
      clusterId,
      group: 'meta',
      chunkBytes,
      message: {
        type: 'snapshot',
        from,
        to: a.node.nodeId,
        term: 1,
        meta: { index: 1_000, term: 1, confState: { voters: [from], learners: [] } },
        offset: 0,
        totalBytes,
      },
    })
    const refusal = async (meta: unknown, ...pieces: Uint8Array[]): Promise<string> => {
      const error = await stranger.sendSnapshot(a.p2p.address(), meta, bytes(...pieces)).then(
        () => null,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(P2PRemoteError)
      return (error as P2PRemoteError).remoteCode
    }
    expect(await refusal({ nonsense: true }, new Uint8Array(4))).toBe('invalid_snapshot')
    expect(await refusal(header(a.node.nodeId, 16), new Uint8Array(16))).toBe('invalid_snapshot')
    expect(await refusal(header(stranger.peerId, 20), new Uint8Array(20))).toBe('invalid_snapshot')
    expect(await refusal(header(stranger.peerId, 16), new Uint8Array(17))).toBe('invalid_snapshot')
    expect(await refusal(header(stranger.peerId, 16), new Uint8Array(8))).toBe('invalid_snapshot')
    // More than a node buffers for one message, whatever the snapshot's size.
    const huge = MAX_SNAPSHOT_MESSAGE_BYTES + 1
    expect(await refusal(header(stranger.peerId, huge, 'snap-1', huge), new Uint8Array(16))).toBe(
      'invalid_snapshot',
    )
    expect(a.dropped.invalidSnapshots).toBe(6)
    // Well formed, but of another cluster, then for a group not hosted here.
    expect(await refusal(header(stranger.peerId, 16, 'another'), new Uint8Array(16))).toBe('snapshot_refused')
    expect(a.node.counters.snapshotsDroppedForeign).toBe(1)
    const before = a.node.host?.metrics().snapshotsReceived ?? 0
    expect(
      await refusal({ ...header(stranger.peerId, 16), group: 'no-such-group' }, new Uint8Array(16)),
    ).toBe('snapshot_refused')
    expect(a.node.host?.metrics().snapshotsDropped).toBe(1)
    expect(a.node.host?.metrics().snapshotsReceived).toBe(before)
  })
})
