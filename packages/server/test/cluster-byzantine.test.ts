import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeMessages, PacketSeal } from '@shoal/swim'
import { waitFor } from '@shoal/testkit/wait'
import fc from 'fast-check'
import type { Libp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deriveKey } from '../src/internal/cluster/cluster-key.ts'
import { encodeFrame, FrameKind, frameBytes } from '../src/internal/p2p/frame.ts'
import {
  derivePnetKey,
  P2PNode,
  type PeerAddress,
  RAFT_PROTOCOL,
  RPC_PROTOCOL,
  SNAPSHOT_PROTOCOL,
} from '../src/internal/p2p/index.ts'
import { createLibp2pHost } from '../src/internal/p2p/libp2p-host.ts'
import { type ClusterProcess, startClusterProcess, writeKeyFile } from './harness/cluster-processes.ts'
import { metrics, sample } from './harness/metrics-text.ts'
import { closed } from './p2p-harness.ts'

// Byzantine and malformed input against a real 3-process cluster, from a
// peer that holds the cluster key (so it passes the private-network and
// Noise handshakes) but is not a member: random bytes, broken frames,
// well-formed frames that are wrong (another cluster id, a forged sender,
// an unknown group, any term), replays, malformed requests, and SWIM
// packets that are unauthenticated, malformed, stale or replayed. Each is
// refused with a typed answer or dropped and counted; no node crashes or
// hangs, and no node's metadata version, Raft term or leader changes.

const KEY_TEXT = 'byzantine-input-cluster-key-00000000'
const seed = Number(process.env.SEED ?? 20261207)
const runs = (numRuns: number) => ({ numRuns, seed })

let scratch: string
let nodes: ClusterProcess[] = []
let clusterId: string
let host: Libp2p
let hostile: P2PNode

interface Observed {
  version: number
  term: number
  leader: number
  leaderChanges: number
  alive: number
}

async function observe(node: ClusterProcess): Promise<Observed> {
  const text = await metrics(node)
  return {
    version: sample(text, 'shoal_cluster_metadata_version'),
    term: sample(text, 'shoal_cluster_metadata_term'),
    leader: sample(text, 'shoal_cluster_metadata_leader'),
    leaderChanges: sample(text, 'shoal_raft_leader_changes_total'),
    alive: sample(text, 'shoal_cluster_members', { state: 'alive' }),
  }
}

async function observeAll(): Promise<Observed[]> {
  return Promise.all(nodes.map(observe))
}

async function counter(name: string, labels: Record<string, string> = {}, of = nodes): Promise<number> {
  let total = 0
  for (const node of of) total += sample(await metrics(node), name, labels)
  return total
}

function address(node: ClusterProcess): PeerAddress {
  return { peerId: node.nodeId, addrs: [node.p2pAddr] }
}

/** Opens a stream of `protocol` to `node`, writes `bytes`, closes its side and waits until the node ended it. */
async function rawStream(node: ClusterProcess, protocol: string, bytes: Uint8Array): Promise<void> {
  const stream = await host.dialProtocol(multiaddr(node.p2pAddr), protocol, {
    signal: AbortSignal.timeout(10_000),
  })
  const ended = closed(stream)
  stream.send(bytes)
  await stream.close().catch(() => {})
  // A stream the node still reads (a frame announcing more bytes than came)
  // ends when this side gives up on it.
  const timer = setTimeout(() => stream.abort(new Error('done')), 2_000)
  await ended
  clearTimeout(timer)
}

let baseline: Observed[]

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'shoal-byzantine-'))
  const keyFile = await writeKeyFile(scratch, 'cluster.key', KEY_TEXT)
  const first = await startClusterProcess({ name: 'n0', dataDir: `${scratch}/n0`, keyFile, bootstrap: true })
  nodes = [first]
  for (const i of [1, 2])
    nodes.push(
      await startClusterProcess({
        name: `n${i}`,
        dataDir: `${scratch}/n${i}`,
        keyFile,
        join: [first.gossipAddr],
      }),
    )
  clusterId = /cluster:\s+(\S+) as node/.exec(first.output())?.[1] as string
  await waitFor(
    'three voters',
    async () => {
      const view = await first.request<{ nodes: Array<{ roles: string[] }> }>('GET', '/_cluster/nodes')
      return view.body.nodes.filter((n) => n.roles.includes('metadata_voter')).length === 3
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )
  // Settled: one leader, every node alive to every other and at the same
  // metadata version, twice in a row a second apart (the controller idle).
  let previous = ''
  await waitFor(
    'a settled cluster',
    async () => {
      const seen = await observeAll()
      const now = JSON.stringify(seen.map(({ version, term, leader }) => [version, term, leader]))
      const ok =
        seen.filter((o) => o.leader === 1).length === 1 &&
        seen.every((o) => o.alive === 3 && o.version === seen[0]?.version) &&
        now === previous
      previous = now
      return ok
    },
    { timeoutMs: 60_000, intervalMs: 1_000 },
  )
  baseline = await observeAll()
  const key = new TextEncoder().encode(KEY_TEXT)
  host = await createLibp2pHost({
    privateKey: await generateKeyPair('Ed25519'),
    pnet: { pnetKey: derivePnetKey(key) },
    listen: { host: '127.0.0.1', port: 0 },
    dialTimeoutMs: 5_000,
    handshakeTimeoutMs: 5_000,
    maxReadBufferBytes: 8 * 1024 * 1024,
  })
  await host.start()
  hostile = new P2PNode({
    dataDir: path.join(scratch, 'hostile'),
    clusterKey: key,
    listen: { host: '127.0.0.1', port: 0 },
  })
  await hostile.start()
}, 240_000)

afterAll(async () => {
  await hostile?.stop()
  await host?.stop()
  await Promise.all(nodes.map((n) => n.kill()))
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
})

describe('byzantine and malformed input against a 3-node cluster', () => {
  it('random bytes and broken frames on /shoal/raft/1, /shoal/rpc/1 and /shoal/snapshot/1: each stream closed and counted', async () => {
    for (const protocol of [RAFT_PROTOCOL, RPC_PROTOCOL, SNAPSHOT_PROTOCOL]) {
      const before = await counter('shoal_p2p_streams_closed_total', { protocol })
      let streams = 0
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 1024 }), fc.nat(2), async (bytes, at) => {
          await rawStream(nodes[at] as ClusterProcess, protocol, bytes)
          streams++
        }),
        runs(12),
      )
      const kind =
        protocol === RAFT_PROTOCOL
          ? FrameKind.raft
          : protocol === RPC_PROTOCOL
            ? FrameKind.rpcRequest
            : FrameKind.snapshotBegin
      const body = encodeFrame(kind, { any: 'thing' }, 1024)
      const broken: Array<[string, Uint8Array]> = [
        ['truncated', body.subarray(0, body.byteLength - 3)],
        ['oversized', frameBytes(kind, new Uint8Array(0)).map((b, i) => (i < 4 ? 0x7f : b))],
        ['bad_version', frameBytes(kind, new Uint8Array([0xc0]), 9)],
        ['unexpected_kind', frameBytes(200, new Uint8Array([0xc0]))],
        ['undecodable', frameBytes(kind, new Uint8Array([0xc1, 0xc1]))],
      ]
      for (const [reason, bytes] of broken) {
        const reasonBefore = await counter('shoal_p2p_streams_closed_total', { protocol, reason }, [
          nodes[0] as ClusterProcess,
        ])
        await rawStream(nodes[0] as ClusterProcess, protocol, bytes)
        streams++
        await waitFor(
          `${protocol} ${reason} counted`,
          async () =>
            (await counter('shoal_p2p_streams_closed_total', { protocol, reason }, [
              nodes[0] as ClusterProcess,
            ])) ===
            reasonBefore + 1,
          { timeoutMs: 10_000, intervalMs: 100 },
        )
      }
      await waitFor(
        `${protocol} streams counted`,
        async () => (await counter('shoal_p2p_streams_closed_total', { protocol })) >= before + streams,
        { timeoutMs: 10_000, intervalMs: 100 },
      )
    }
    expect(await observeAll()).toEqual(baseline)
  }, 180_000)

  it('well-formed Raft frames that are wrong (another cluster, a forged sender, an unknown group, any term from an outsider), each sent twice: dropped and counted', async () => {
    const me = hostile.peerId
    const before = {
      foreign: await counter('shoal_cluster_frames_dropped_total', { reason: 'foreign_cluster' }),
      invalid: await counter('shoal_cluster_invalid_frames_total'),
      items: await counter('shoal_raft_items_dropped_total'),
      outsider: await counter('shoal_raft_messages_ignored_total', { reason: 'outsider' }),
    }
    const expected = { foreign: 0, invalid: 0, items: 0, outsider: 0 }
    const term = fc.oneof(
      fc.nat(4),
      fc.constant(baseline[0]?.term ?? 1),
      fc.integer({ min: 0, max: 2 ** 40 }),
    )
    const index = fc.integer({ min: 0, max: 2 ** 40 })
    const entry = fc.record({
      kind: fc.constant('normal'),
      term,
      index,
      data: fc.uint8Array({ maxLength: 64 }),
    })
    const message = (to: string) =>
      fc.oneof(
        fc.record({
          type: fc.constant('append'),
          from: fc.constant(me),
          to: fc.constant(to),
          term,
          index,
          logTerm: term,
          entries: fc.array(entry, { maxLength: 3 }),
          commit: index,
        }),
        fc.record({
          type: fc.constant('heartbeat'),
          from: fc.constant(me),
          to: fc.constant(to),
          term,
          commit: index,
          context: fc.constant(null),
          quiesce: fc.boolean(),
        }),
        fc.record({
          type: fc.constant('vote'),
          from: fc.constant(me),
          to: fc.constant(to),
          term,
          pre: fc.boolean(),
          index,
          logTerm: term,
          transfer: fc.boolean(),
        }),
        fc.record({ type: fc.constant('timeoutNow'), from: fc.constant(me), to: fc.constant(to), term }),
        fc.record({
          type: fc.constant('appendResponse'),
          from: fc.constant(me),
          to: fc.constant(to),
          term,
          index,
          reject: fc.boolean(),
          hintIndex: index,
          hintTerm: term,
        }),
      )
    type Case = { target: number; kind: keyof typeof expected; frame: unknown }
    const wrong = fc.nat(2).chain((target) => {
      const to = (nodes[target] as ClusterProcess).nodeId
      const other = (nodes[(target + 1) % 3] as ClusterProcess).nodeId
      return fc.oneof(
        // Another cluster's frame.
        message(to).map(
          (m): Case => ({
            target,
            kind: 'foreign',
            frame: {
              clusterId: `${clusterId}x`,
              frame: { from: me, items: [{ kind: 'raft', group: 'meta', message: m }] },
            },
          }),
        ),
        // A member's name forged, on the frame or on the message.
        message(to).map(
          (m): Case => ({
            target,
            kind: 'invalid',
            frame: {
              clusterId,
              frame: {
                from: other,
                items: [{ kind: 'raft', group: 'meta', message: { ...m, from: other } }],
              },
            },
          }),
        ),
        message(to).map(
          (m): Case => ({
            target,
            kind: 'invalid',
            frame: {
              clusterId,
              frame: { from: me, items: [{ kind: 'raft', group: 'meta', message: { ...m, from: other } }] },
            },
          }),
        ),
        // A group this node does not host, or a message for another node.
        fc
          .tuple(
            fc.string({ maxLength: 12 }).filter((g) => g !== 'meta'),
            message(to),
          )
          .map(
            ([group, m]): Case => ({
              target,
              kind: 'items',
              frame: { clusterId, frame: { from: me, items: [{ kind: 'raft', group, message: m }] } },
            }),
          ),
        message(other).map(
          (m): Case => ({
            target,
            kind: 'items',
            frame: { clusterId, frame: { from: me, items: [{ kind: 'raft', group: 'meta', message: m }] } },
          }),
        ),
        // The metadata group itself, from a sender outside it, at any term.
        message(to).map(
          (m): Case => ({
            target,
            kind: 'outsider',
            frame: { clusterId, frame: { from: me, items: [{ kind: 'raft', group: 'meta', message: m }] } },
          }),
        ),
      )
    })
    await fc.assert(
      fc.asyncProperty(wrong, async (c) => {
        for (let copy = 0; copy < 2; copy++)
          hostile.sendRaft(address(nodes[c.target] as ClusterProcess), c.frame)
        expected[c.kind] += 2
      }),
      runs(40),
    )
    let seen = {}
    await waitFor(
      'every wrong frame counted',
      async () => {
        seen = {
          foreign:
            (await counter('shoal_cluster_frames_dropped_total', { reason: 'foreign_cluster' })) -
            before.foreign,
          invalid: (await counter('shoal_cluster_invalid_frames_total')) - before.invalid,
          items: (await counter('shoal_raft_items_dropped_total')) - before.items,
          outsider:
            (await counter('shoal_raft_messages_ignored_total', { reason: 'outsider' })) - before.outsider,
        }
        return JSON.stringify(seen) === JSON.stringify(expected)
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}: expected ${JSON.stringify(expected)}, counted ${JSON.stringify(seen)}`,
      )
    })
    expect(await observeAll()).toEqual(baseline)
  }, 180_000)

  it('malformed, foreign and replayed requests on /shoal/rpc/1: typed refusals, nothing proposed', async () => {
    const body = fc.oneof(
      fc.anything({ maxDepth: 3 }),
      fc.record({
        type: fc.constantFrom('meta.propose', 'meta.readIndex', 'meta.other'),
        clusterId: fc.string(),
        command: fc.anything({ maxDepth: 2 }),
      }),
      fc.record({
        type: fc.constant('meta.propose'),
        clusterId: fc.constant(`${clusterId}-other`),
        command: fc.constant({ type: 'settings.set', key: 'owned', value: 'yes' }),
      }),
      fc.record({
        type: fc.constant('meta.propose'),
        clusterId: fc.constant(clusterId),
        command: fc.anything({ maxDepth: 2 }),
      }),
    )
    await fc.assert(
      fc.asyncProperty(body, fc.nat(2), async (request, at) => {
        for (let copy = 0; copy < 2; copy++) {
          const answer = (await hostile.request(address(nodes[at] as ClusterProcess), request, {
            timeoutMs: 15_000,
          })) as {
            ok: boolean
            code?: string
          }
          expect(answer.ok, JSON.stringify(request)).toBe(false)
          expect([
            'invalid_request',
            'invalid_command',
            'cluster_mismatch',
            'unknown_request',
            'not_leader',
          ]).toContain(answer.code)
        }
      }),
      runs(40),
    )
    expect(await observeAll()).toEqual(baseline)
  }, 180_000)

  it('SWIM packets that are random, unauthenticated, malformed, oversized, stale or replayed: dropped and counted', async () => {
    const target = nodes[1] as ClusterProcess
    const [gossipHost, gossipPort] = target.gossipAddr.split(':') as [string, string]
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
    const send = (packet: Uint8Array) =>
      new Promise<void>((resolve) => socket.send(packet, Number(gossipPort), gossipHost, () => resolve()))
    const good = new PacketSeal({ clusterKey: deriveKey(new TextEncoder().encode(KEY_TEXT), 'swim/1') })
    const ping = encodeMessages([
      {
        type: 'ping',
        seq: 1,
        from: 'stranger',
        fromAddress: `127.0.0.1:${socket.address().port}`,
        target: target.nodeId,
        updates: [],
      },
    ])
    const dropped = async (reason: string) =>
      counter('shoal_gossip_packets_dropped_total', { reason }, [target])
    const reasons = ['malformed', 'unauthenticated', 'oversized', 'stale', 'replayed'] as const
    const before = Object.fromEntries(
      await Promise.all(reasons.map(async (r) => [r, await dropped(r)] as const)),
    )
    const expected = { malformed: 0, unauthenticated: 0, oversized: 0, stale: 0, replayed: 0 }
    try {
      const packet = fc.oneof(
        fc
          .uint8Array({ minLength: 1, maxLength: 1200 })
          .map((b) => ({ bytes: b, reason: 'random' as const })),
        fc.uint8Array({ maxLength: 200 }).map((b) => ({
          bytes: new PacketSeal({ clusterKey: randomBytes(32) }).seal(b, Date.now()),
          reason: 'unauthenticated' as const,
        })),
        fc
          .uint8Array({ minLength: 1, maxLength: 200 })

          .map((b) => ({
            bytes: good.seal(b, Date.now()),
            reason: 'sealed' as const,
          })),
        fc
          .integer({ min: 1401, max: 4000 })
          .map((n) => ({ bytes: good.seal(new Uint8Array(n), Date.now()), reason: 'oversized' as const })),
        fc
          .integer({ min: 60_000, max: 10 ** 9 })
          .map((age) => ({ bytes: good.seal(ping, Date.now() - age), reason: 'stale' as const })),
      )
      let random = 0
      let sealed = 0
      await fc.assert(
        fc.asyncProperty(packet, async (p) => {
          await send(p.bytes)
          if (p.reason === 'random') random++
          else if (p.reason === 'sealed') sealed++
          else expected[p.reason]++
        }),
        runs(60),
      )
      // Replays: a valid packet, then the same bytes again.
      for (let i = 0; i < 3; i++) {
        const valid = good.seal(ping, Date.now())
        await send(valid)
        await send(valid)
        expected.replayed++
      }
      let now: Record<string, number> = {}
      await waitFor(
        'every SWIM packet counted',
        async () => {
          now = Object.fromEntries(
            await Promise.all(
              reasons.map(async (r) => [r, (await dropped(r)) - (before[r] as number)] as const),
            ),
          )
          // Random bytes fail as malformed or unauthenticated; authenticated
          // bytes that are not messages, as malformed (or are none at all).
          const refused = (now.malformed ?? 0) + (now.unauthenticated ?? 0)
          return (
            now.oversized === expected.oversized &&
            now.stale === expected.stale &&
            now.replayed === expected.replayed &&
            refused >= expected.unauthenticated + random &&
            refused <= expected.unauthenticated + random + sealed
          )
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      ).catch((error: Error) => {
        throw new Error(
          `${error.message}: sent ${JSON.stringify({ expected, random, sealed })}, counted ${JSON.stringify(now)}`,
        )
      })
    } finally {
      socket.close()
    }
    expect(await observeAll()).toEqual(baseline)
  }, 120_000)

  it('after all of it the cluster still takes writes through every node', async () => {
    for (const [i, node] of nodes.entries()) {
      const answer = await node.request('PUT', '/_cluster/settings', { persistent: { [`after${i}`]: 'ok' } })
      expect(answer.status).toBe(200)
    }
  }, 60_000)
})
