import type { NormalEntry } from '@shoal/raft'
import { Rng, testSeed } from '@shoal/testkit/rng'
import { describe, expect, it } from 'vitest'
import {
  computeHealth,
  decodeMember,
  encodeCommand,
  encodeMemberMetadata,
  InvalidShardingError,
  isMetadataCommand,
  type MetadataCommand,
  MetadataStateMachine,
  type NodeAdvert,
  type PlacementSpec,
  planIndexPlacement,
  planShardMoves,
  planShardStep,
  sameAdvert,
  shardKeyText,
  shardOfFieldValue,
  shardsOfFilterValue,
  UnsatisfiablePlacementError,
} from '../src/index.ts'

interface NodeLabels {
  readonly region: string
  readonly zone?: string
  readonly labels?: Record<string, string>
}

function advert(id: string, where: NodeLabels): NodeAdvert {
  return {
    id,
    name: id,
    p2pAddrs: [],
    httpAddr: '127.0.0.1:1',
    gossipAddr: '127.0.0.1:2',
    region: where.region,
    zone: where.zone ?? `${where.region}-${id}`,
    capabilities: ['bm25', 'vector'],
    version: '0.1.0',
    ...(where.labels === undefined ? {} : { labels: where.labels }),
  }
}

class Cluster {
  readonly sm = new MetadataStateMachine()
  #log = 0

  constructor(nodes: Record<string, NodeLabels>) {
    this.apply({ type: 'init', clusterId: 'c', name: 'c', atMs: 1 })
    for (const [id, where] of Object.entries(nodes))
      this.apply({ type: 'node.join', node: advert(id, where), atMs: 2 })
  }

  apply(command: MetadataCommand): void {
    const entry: NormalEntry = { kind: 'normal', term: 1, index: ++this.#log, data: encodeCommand(command) }
    const outcome = this.sm.apply(entry)
    if (outcome?.ok !== true) throw new Error(`refused: ${JSON.stringify(outcome)}`)
  }

  create(uid: string, request: Record<string, unknown>): void {
    const plan = planIndexPlacement(this.sm.state, uid, request)
    this.apply({
      type: 'index.create',
      index: { uid, primaryKey: 'id', settings: {}, sharding: plan.sharding },
      shards: plan.shards,
      atMs: 3,
    })
  }
}

const HOT_AND_WARM: Record<string, NodeLabels> = {
  a: { region: 'eu', labels: { tier: 'hot', disk: 'ssd' } },
  b: { region: 'eu', labels: { tier: 'hot', disk: 'ssd' } },
  c: { region: 'us', labels: { tier: 'hot' } },
  d: { region: 'us', labels: { tier: 'warm' } },
  e: { region: 'ap', labels: { tier: 'warm' } },
}

function holders(cluster: Cluster, uid: string): string[][] {
  return (cluster.sm.state.shards[uid] ?? []).map((s) => s.replicas.map((r) => r.nodeId))
}

describe('the field strategy', () => {
  it('records the strategy and its field; refuses range, a missing field or a field under hash', () => {
    const cluster = new Cluster(HOT_AND_WARM)
    const plan = planIndexPlacement(cluster.sm.state, 'docs', {
      strategy: 'field',
      field: 'tenant',
      shardCount: 4,
    })
    expect(plan.sharding).toMatchObject({ strategy: 'field', field: 'tenant', shardCount: 4 })
    expect(() => planIndexPlacement(cluster.sm.state, 'docs', { strategy: 'range' })).toThrow(
      /not supported yet/,
    )
    for (const bad of [
      { strategy: 'field' },
      { strategy: 'field', field: '' },
      { strategy: 'field', field: 'owner.id' },
      { strategy: 'field', field: 7 },
      { strategy: 'hash', field: 'tenant' },
      { strategy: 'tenant' },
    ])
      expect(() => planIndexPlacement(cluster.sm.state, 'docs', bad), JSON.stringify(bad)).toThrow(
        InvalidShardingError,
      )
  })

  it('keeps older records valid and refuses a field strategy without its field in the log', () => {
    const create = (sharding: Record<string, unknown>) => ({
      type: 'index.create',
      index: { uid: 'x', primaryKey: 'id', settings: {}, sharding },
      atMs: 1,
    })
    expect(isMetadataCommand(create({ shardCount: 2, replicationFactor: 1, strategy: 'hash' }))).toBe(true)
    expect(
      isMetadataCommand(create({ shardCount: 2, replicationFactor: 1, strategy: 'field', field: 'tenant' })),
    ).toBe(true)
    expect(isMetadataCommand(create({ shardCount: 2, replicationFactor: 1, strategy: 'field' }))).toBe(false)
    expect(
      isMetadataCommand(create({ shardCount: 2, replicationFactor: 1, strategy: 'hash', field: 'tenant' })),
    ).toBe(false)
    expect(
      isMetadataCommand(
        create({
          shardCount: 2,
          replicationFactor: 1,
          strategy: 'hash',
          placement: { require: { tier: 3 } },
        }),
      ),
    ).toBe(false)
    const { labels: _labels, ...plain } = advert('old', { region: 'eu' })
    expect(isMetadataCommand({ type: 'node.join', node: plain, atMs: 1 })).toBe(true)
  })

  it('hashes strings case-folded and integers as their text; refuses other values', () => {
    expect(shardKeyText('ACME')).toBe('acme')
    expect(shardKeyText(42)).toBe('42')
    for (const bad of ['', 4.5, true, null, ['a'], { a: 1 }, Number.MAX_SAFE_INTEGER + 2])
      expect(shardKeyText(bad), JSON.stringify(bad)).toBeUndefined()
    expect(shardOfFieldValue({ tenant: 'Acme' }, 'tenant', 8)).toEqual(
      shardOfFieldValue({ tenant: 'acme' }, 'tenant', 8),
    )
    expect(shardOfFieldValue({ tenant: 42 }, 'tenant', 8)).toEqual(
      shardOfFieldValue({ tenant: '42' }, 'tenant', 8),
    )
    expect(shardOfFieldValue({ id: 1 }, 'tenant', 8)).toEqual({ ok: false, problem: 'missing' })
    expect(shardOfFieldValue({ tenant: [1] }, 'tenant', 8)).toEqual({ ok: false, problem: 'invalid' })
    expect(shardOfFieldValue({ tenant: 1.5 }, 'tenant', 8)).toEqual({ ok: false, problem: 'invalid' })
  })

  it('maps a filter value to every shard an equal document may live in', () => {
    const of = (v: unknown) => {
      const outcome = shardOfFieldValue({ t: v }, 't', 16)
      if (!outcome.ok) throw new Error('no shard')
      return outcome.shard
    }
    expect(shardsOfFilterValue('ACME', 16)).toEqual([of('acme')])
    // `t = 042` matches the string "042" and the number 42 (the engine's filter equality).
    expect(shardsOfFilterValue('042', 16)).toEqual([...new Set([of('042'), of(42)])].sort((a, b) => a - b))
    expect(shardsOfFilterValue('4.2e1', 16)).toContain(of(42))
  })
})

describe('placement constraints', () => {
  it('places replicas only on nodes with the required labels', () => {
    const cluster = new Cluster(HOT_AND_WARM)
    cluster.create('hot', { shardCount: 6, replicationFactor: 3, placement: { require: { tier: 'hot' } } })
    for (const list of holders(cluster, 'hot')) expect(list.sort()).toEqual(['a', 'b', 'c'])
    cluster.create('ssd', {
      shardCount: 4,
      replicationFactor: 2,
      placement: { require: { disk: 'ssd', region: 'eu' } },
    })
    for (const list of holders(cluster, 'ssd')) expect(list.sort()).toEqual(['a', 'b'])
  })

  it('puts one replica per value of spreadBy', () => {
    const cluster = new Cluster(HOT_AND_WARM)
    cluster.create('spread', { shardCount: 8, replicationFactor: 3, placement: { spreadBy: 'region' } })
    const region = (id: string) => HOT_AND_WARM[id]!.region
    for (const list of holders(cluster, 'spread')) expect(new Set(list.map(region)).size).toBe(3)
  })

  it('puts a node of the preferred labels first (the preferred leader) when one holds the shard', () => {
    const cluster = new Cluster(HOT_AND_WARM)
    cluster.create('led', {
      shardCount: 8,
      replicationFactor: 3,
      placement: { leaderPrefers: { region: 'us' } },
    })
    for (const list of holders(cluster, 'led'))
      if (list.some((id) => HOT_AND_WARM[id]!.region === 'us'))
        expect(HOT_AND_WARM[list[0]!]!.region).toBe('us')
  })

  it('refuses, with a typed error, constraints the nodes cannot meet', () => {
    const state = new Cluster(HOT_AND_WARM).sm.state
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ replicationFactor: 2, placement: { require: { tier: 'cold' } } }, /no active data node meets/],
      [
        { replicationFactor: 3, placement: { require: { disk: 'ssd' } } },
        /2 active nodes qualify with disk=ssd/,
      ],
      [{ replicationFactor: 4, placement: { spreadBy: 'region' } }, /span 3 values of `region`/],
      [{ replicationFactor: 2, placement: { spreadBy: 'rack' } }, /no active data node meets/],
    ]
    for (const [request, message] of cases) {
      expect(() => planIndexPlacement(state, 'x', request)).toThrow(UnsatisfiablePlacementError)
      expect(() => planIndexPlacement(state, 'x', request)).toThrow(message)
    }
    for (const bad of [
      { placement: 'hot' },
      { placement: { prefer: {} } },
      { placement: { require: { tier: 3 } } },
    ])
      expect(() => planIndexPlacement(state, 'x', bad)).toThrow(InvalidShardingError)
  })

  it('never places a replica against `require` or `spreadBy` (random clusters and constraints)', () => {
    const seed = testSeed(21_2026)
    const rng = new Rng(seed)
    const tiers = ['hot', 'warm', 'cold']
    const regions = ['eu', 'us', 'ap']
    let placed = 0
    for (let round = 0; round < 200; round++) {
      const nodes: Record<string, NodeLabels> = {}
      const count = 1 + rng.int(8)
      for (let i = 0; i < count; i++)
        nodes[`n${i}`] = {
          region: regions[rng.int(regions.length)]!,
          labels: { tier: tiers[rng.int(tiers.length)]!, ...(rng.int(2) === 0 ? { disk: 'ssd' } : {}) },
        }
      const spec: PlacementSpec = {
        ...(rng.int(3) > 0 ? { require: { tier: tiers[rng.int(tiers.length)]! } } : {}),
        ...(rng.int(2) === 0 ? { spreadBy: 'region' } : {}),
        ...(rng.int(2) === 0 ? { leaderPrefers: { disk: 'ssd' } } : {}),
      }
      const cluster = new Cluster(nodes)
      const request = { shardCount: 1 + rng.int(6), replicationFactor: 1 + rng.int(3), placement: spec }
      try {
        cluster.create('i', request)
      } catch (error) {
        expect((error as Error).name, `SEED=${seed} round ${round}: ${(error as Error).message}`).toMatch(
          /^(InvalidShardingError|UnsatisfiablePlacementError)$/,
        )
        continue
      }
      placed++
      for (const list of holders(cluster, 'i')) {
        for (const id of list)
          for (const [key, value] of Object.entries(spec.require ?? {}))
            expect(nodes[id]!.labels?.[key], `SEED=${seed} round ${round}`).toBe(value)
        if (spec.spreadBy !== undefined)
          expect(new Set(list.map((id) => nodes[id]!.region)).size, `SEED=${seed} round ${round}`).toBe(
            list.length,
          )
        if (spec.leaderPrefers !== undefined && list.some((id) => nodes[id]!.labels?.disk === 'ssd'))
          expect(nodes[list[0]!]!.labels?.disk, `SEED=${seed} round ${round}`).toBe('ssd')
      }
    }
    expect(placed).toBeGreaterThan(20)
  })
})

describe('rebalancing and health under constraints', () => {
  const input = (cluster: Cluster, down: ReadonlySet<string>) => ({
    state: cluster.sm.state,
    alive: (id: string) => !down.has(id),
    downSinceMs: (id: string) => (down.has(id) ? 0 : undefined),
    nowMs: 1_000_000,
    replicaGraceMs: 60_000,
    maxIncomingMoves: 8,
    maxOutgoingMoves: 8,
  })
  const health = (cluster: Cluster, down: ReadonlySet<string>) =>
    computeHealth({
      state: cluster.sm.state,
      alive: (id) => !down.has(id),
      metadataReachable: true,
      metadataLeader: 'a',
      metaVoters: ['a'],
      targetMetaVoters: 1,
    })

  it('replaces a lost replica only on a node meeting `require`', () => {
    const cluster = new Cluster({ ...HOT_AND_WARM, f: { region: 'ap', labels: { tier: 'hot' } } })
    cluster.create('hot', { shardCount: 4, replicationFactor: 3, placement: { require: { tier: 'hot' } } })
    const lost = holders(cluster, 'hot')[0]![0]!
    const plan = planShardMoves(input(cluster, new Set([lost])))
    expect(plan.start.length).toBeGreaterThan(0)
    for (const move of plan.start) if (move.to !== undefined) expect(['a', 'b', 'c', 'f']).toContain(move.to)
    for (const move of plan.start) expect(move.to).not.toBe(lost)
  })

  it('leaves a shard short and reports why when no eligible node is left, never placing elsewhere', () => {
    const cluster = new Cluster(HOT_AND_WARM)
    cluster.create('hot', { shardCount: 2, replicationFactor: 3, placement: { require: { tier: 'hot' } } })
    const down = new Set(['c'])
    const plan = planShardMoves(input(cluster, down))
    expect(plan.start).toEqual([])
    expect(plan.unplaceable).toEqual([{ index: 'hot', reason: expect.stringMatching(/require tier=hot/) }])
    const report = health(cluster, down)
    expect(report.status).toBe('yellow')
    expect(report.reasons.join('\n')).toMatch(/index hot: placement \(require tier=hot\) cannot be met/)
    expect(health(cluster, new Set()).status).toBe('green')
  })

  it('reports a replica left on a node whose labels no longer qualify, and moves it away', () => {
    const cluster = new Cluster({ ...HOT_AND_WARM, f: { region: 'ap', labels: { tier: 'hot' } } })
    cluster.create('hot', { shardCount: 2, replicationFactor: 3, placement: { require: { tier: 'hot' } } })
    const demoted = holders(cluster, 'hot')[0]![0]!
    cluster.apply({
      type: 'node.join',
      node: advert(demoted, { region: 'eu', labels: { tier: 'warm' } }),
      atMs: 9,
    })
    expect(health(cluster, new Set()).reasons.join('\n')).toMatch(
      new RegExp(`replica on ${demoted} lacks the required labels tier=hot`),
    )
    const plan = planShardMoves(input(cluster, new Set()))
    const away = plan.start.filter((m) => m.from === demoted)
    expect(away.length).toBeGreaterThan(0)
    for (const move of away)
      expect(move.to).toBe(
        ['a', 'b', 'c', 'f'].find(
          (id) => id !== demoted && !holders(cluster, 'hot')[move.shard]!.includes(id),
        ),
      )
  })

  it('a shard leader that is not preferred hands leadership to a preferred, caught-up voter', () => {
    const replicas = ['a', 'b', 'c'].map((nodeId) => ({
      nodeId,
      role: 'voter' as const,
      state: 'active' as const,
    }))
    const base = {
      self: 'a',
      replicas,
      conf: { voters: ['a', 'b', 'c'], learners: [] },
      followers: [
        { id: 'b', match: 10, next: 11, state: 'replicate' as const, learner: false, lag: 0 },
        { id: 'c', match: 10, next: 11, state: 'replicate' as const, learner: false, lag: 0 },
      ],
      caughtUpEntries: 64,
      alive: () => true,
    }
    expect(planShardStep({ ...base, preferredLeaders: ['c'] })).toEqual({ kind: 'transfer', to: 'c' })
    expect(planShardStep({ ...base, preferredLeaders: ['a', 'c'] })).toBeNull()
    expect(planShardStep({ ...base, preferredLeaders: [] })).toBeNull()
    expect(planShardStep({ ...base, preferredLeaders: ['c'], alive: (id) => id !== 'c' })).toBeNull()
  })
})

describe('node labels', () => {
  it('travel in the gossip advert and take part in its comparison', () => {
    const labelled = advert('a', { region: 'eu', labels: { tier: 'hot', disk: 'ssd' } })
    const member = decodeMember({
      id: 'a',
      address: '127.0.0.1:2',
      state: 'alive',
      incarnation: 1,
      meta: encodeMemberMetadata(labelled, 'c'),
      stateChangedAtMs: 0,
      lastHeardMs: 0,
    } as never)
    expect(member.advert.labels).toEqual({ disk: 'ssd', tier: 'hot' })
    expect(sameAdvert(member.advert, labelled)).toBe(true)
    expect(sameAdvert(labelled, advert('a', { region: 'eu', labels: { tier: 'warm', disk: 'ssd' } }))).toBe(
      false,
    )
    const plain = advert('a', { region: 'eu' })
    expect(
      decodeMember({
        id: 'a',
        address: 'x',
        state: 'alive',
        incarnation: 1,
        meta: encodeMemberMetadata(plain, 'c'),
        stateChangedAtMs: 0,
        lastHeardMs: 0,
      } as never).advert.labels,
    ).toBeUndefined()
  })
})
