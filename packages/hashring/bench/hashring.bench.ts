import { defineSuite } from '@shoal/bench'
import PeerRing from 'hashring'
import { mulberry32 } from '../../../bench/src/rng.ts'
import { DEFAULT_VNODES_PER_WEIGHT, HashRing, place } from '../src/index.ts'
import { Utf8Scratch } from '../src/internal/utf8.ts'
import { xxh64 } from '../src/internal/xxh64.ts'
import { jumpHash } from './jump-hash.ts'

interface Router {
  name: string
  peer?: string
  /** Owner of `key` among nodes `node-0 … node-(n-1)`. */
  owner(key: string): string
}

const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i}`)

function shoalRouter(n: number): Router {
  const ring = new HashRing()
  for (const id of nodeIds(n)) ring.add({ id })
  return { name: 'shoal', owner: (key) => ring.lookup(key) }
}

function peerRouter(n: number): Router {
  const servers: Record<string, number> = {}
  for (const id of nodeIds(n)) servers[id] = 1
  const ring = new PeerRing(servers)
  return { name: 'hashring', peer: 'hashring (npm, ketama)', owner: (key) => ring.get(key) }
}

function jumpRouter(n: number): Router {
  const ids = nodeIds(n)
  const scratch = new Utf8Scratch()
  const hash = new Uint32Array(2)
  return {
    name: 'jump',
    peer: 'jump consistent hash (XXH64 key)',
    owner: (key) => {
      const length = scratch.encode(key)
      xxh64(scratch.bytes, length, 0, 0, hash)
      return ids[jumpHash(hash[0]!, hash[1]!, n)]!
    },
  }
}

const routers = [shoalRouter, peerRouter, jumpRouter]

function maxOverMean(counts: Map<string, number>, total: number, n: number): number {
  return Math.max(...counts.values()) / (total / n)
}

/**
 * Consistent hashing and placement against the npm `hashring` package (ketama,
 * 160 points per node) and jump consistent hash, on the same node sets and
 * keys: lookups/s, key balance at 10 and 100 nodes, keys moved when an 11th
 * node joins, and replica placement balance.
 */
export default defineSuite({
  description:
    'Hash ring: lookups/s in interleaved rounds, key balance, movement on join, placement balance vs hashring (npm) and jump hash',
  peers: { npm: ['hashring'] },
  async run(ctx) {
    const keyCount = ctx.smoke ? 50_000 : 1_000_000
    const keys = Array.from({ length: keyCount }, (_, i) => `key-${ctx.seed}-${i}`)
    await measureLookups(ctx, keys)
    for (const n of [10, 100]) {
      for (const make of routers) {
        const router = make(n)
        const counts = new Map<string, number>()
        for (const key of keys) {
          const owner = router.owner(key)
          counts.set(owner, (counts.get(owner) ?? 0) + 1)
        }
        const value = maxOverMean(counts, keys.length, n)
        ctx.record({
          name: `load-max-mean-${n}-nodes-${router.name}`,
          metric: 'max/mean',
          value,
          unit: 'x',
          ...peerOf(router),
        })
        ctx.log(`load max/mean at ${n} nodes, ${router.name}: ${value.toFixed(4)}`)
        if (router.name === 'shoal')
          ctx.ratio(`load-${n}-vs-target`, value, n === 10 ? 1.05 : 1.1, 'target', { timed: false })
      }
    }
    const ideal = 1 / 11
    for (const make of routers) {
      const before = make(10)
      const after = make(11)
      let moved = 0
      for (const key of keys) if (before.owner(key) !== after.owner(key)) moved += 1
      const fraction = moved / keys.length
      ctx.record({
        name: `moved-fraction-${before.name}`,
        metric: 'fraction',
        value: fraction,
        unit: 'keys',
        ...peerOf(before),
      })
      ctx.log(`moved on join, ${before.name}: ${fraction.toFixed(4)} (ideal ${ideal.toFixed(4)})`)
      if (before.name === 'shoal')
        ctx.ratio('moved-vs-ideal', fraction, ideal, 'ideal 1/11', { timed: false })
    }
    measurePlacement(ctx)
    measureAnyIds(ctx)
  },
})

/**
 * Balance for any node ids: over 100 seeded random sets of 10 ids, the busiest node's share of
 * the key space (exact, from the ring's arcs) over the mean, at the old default of 1024 points
 * per node and the current default; with each ring's memory and build time.
 */
function measureAnyIds(ctx: Context): void {
  const random = mulberry32(ctx.seed)
  const sets = Array.from({ length: 100 }, () =>
    Array.from(
      { length: 10 },
      () => `${Math.floor(random() * 2 ** 32).toString(36)}-${Math.floor(random() * 1e6)}`,
    ),
  )
  for (const vnodesPerWeight of [1024, DEFAULT_VNODES_PER_WEIGHT]) {
    const ratios: number[] = []
    let memoryBytes = 0
    const started = performance.now()
    for (const ids of sets) {
      const ring = new HashRing({ vnodesPerWeight })
      for (const id of ids) ring.add({ id })
      ratios.push(Math.max(...ring.shares().values()) * ids.length)
      memoryBytes = ring.memoryBytes
    }
    const buildMs = (performance.now() - started) / sets.length
    ratios.sort((a, b) => a - b)
    const p95 = ratios[94]!
    ctx.record({ name: `any-ids-load-p95-${vnodesPerWeight}`, metric: 'max/mean', value: p95, unit: 'x' })
    ctx.record({
      name: `ring-memory-10-nodes-${vnodesPerWeight}`,
      metric: 'memory',
      value: memoryBytes,
      unit: 'B',
    })
    ctx.record({
      name: `ring-build-10-nodes-${vnodesPerWeight}`,
      metric: 'latency',
      value: buildMs,
      unit: 'ms',
    })
    ctx.log(
      `any ids, ${vnodesPerWeight} points per node: p95 max/mean ${p95.toFixed(4)}, ${memoryBytes} B, build ${buildMs.toFixed(1)} ms (build + shares)`,
    )
    if (vnodesPerWeight === DEFAULT_VNODES_PER_WEIGHT)
      ctx.ratio('any-ids-load-p95-vs-target', p95, 1.05, 'target', { timed: false })
  }
}

function peerOf(router: Router): { peer?: string } {
  return router.peer === undefined ? {} : { peer: router.peer }
}

type Context = Parameters<Parameters<typeof defineSuite>[0]['run']>[0]

/**
 * Lookups/s on 10 nodes. The routers take turns, round after round, each
 * routing the next batch of distinct keys (so caches, like the peer's LRU,
 * miss); the figure is each router's median over the rounds, so load spikes
 * on a shared machine hit every router alike.
 */
async function measureLookups(ctx: Context, keys: string[]): Promise<void> {
  const batch = ctx.smoke ? 20_000 : 100_000
  const rounds = ctx.smoke ? 5 : 15
  const active = routers.map((make) => make(10))
  const samples = new Map<string, number[]>(active.map((router) => [router.name, []]))
  let offset = 0
  let sink = 0
  for (let round = -1; round < rounds; round++) {
    // The order rotates each round, so no router always runs first.
    for (let k = 0; k < active.length; k++) {
      const router = active[(k + Math.max(0, round)) % active.length]!
      const started = performance.now()
      for (let i = 0; i < batch; i++) sink += router.owner(keys[(offset + i) % keys.length]!).length
      const seconds = (performance.now() - started) / 1000
      offset = (offset + batch) % keys.length
      if (round >= 0) samples.get(router.name)!.push(batch / seconds) // round -1 warms up
    }
  }
  if (sink === 0) throw new Error('lookups returned nothing')
  const ops: Record<string, number> = {}
  for (const router of active) {
    const sorted = [...samples.get(router.name)!].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)]!
    ops[router.name] = median
    ctx.record({
      name: `lookup-10-nodes-${router.name}`,
      metric: 'ops/s',
      value: median,
      unit: 'ops/s',
      ...peerOf(router),
    })
    ctx.log(
      `lookup-10-nodes-${router.name}: ${Math.round(median).toLocaleString('en')} lookups/s (median of ${rounds})`,
    )
  }
  const perRound = (name: string) => samples.get(name)!
  ctx.roundRatio(
    'lookup-ratio-vs-hashring',
    perRound('shoal'),
    perRound('hashring'),
    'hashring (npm, ketama)',
  )
  ctx.roundRatio(
    'lookup-ratio-vs-jump',
    perRound('shoal'),
    perRound('jump'),
    'jump consistent hash (XXH64 key)',
  )
  ctx.roundRatio(
    'lookup-vs-target-4M',
    perRound('shoal'),
    perRound('shoal').map(() => 4_000_000),
    'target 4M/s',
  )
}

function measurePlacement(ctx: Context): void {
  const shardCount = 1024
  const replicationFactor = 3
  const nodes = nodeIds(10)
  const mean = (shardCount * replicationFactor) / nodes.length
  const started = performance.now()
  const placement = place({
    index: 'docs',
    shardCount,
    replicationFactor,
    nodes: nodes.map((id) => ({ id })),
  })
  const elapsedMs = performance.now() - started
  const counts = new Map<string, number>()
  for (const holders of placement.shards) for (const id of holders) counts.set(id, (counts.get(id) ?? 0) + 1)
  const balance = Math.max(...counts.values()) / mean
  ctx.record({ name: 'placement-balance-shoal', metric: 'max/mean', value: balance, unit: 'x' })
  ctx.record({ name: 'placement-time-shoal', metric: 'latency', value: elapsedMs, unit: 'ms' })
  ctx.ratio('placement-balance-vs-target', balance, 1.02, 'target', { timed: false })
  ctx.log(`placement 1024×3 over 10 nodes: max/mean ${balance.toFixed(4)} in ${elapsedMs.toFixed(0)} ms`)

  // Peers: the first three distinct nodes clockwise (hashring.range), and jump + the next buckets.
  const servers: Record<string, number> = {}
  for (const id of nodes) servers[id] = 1
  const ring = new PeerRing(servers)
  const jump = jumpRouter(10)
  const peerCounts = new Map<string, number>()
  const jumpCounts = new Map<string, number>()
  for (let s = 0; s < shardCount; s++) {
    for (const id of ring.range(`docs/${s}`, replicationFactor, true))
      peerCounts.set(id, (peerCounts.get(id) ?? 0) + 1)
    const first = Number(jump.owner(`docs/${s}`).slice('node-'.length))
    for (let r = 0; r < replicationFactor; r++) {
      const id = nodes[(first + r) % nodes.length]!
      jumpCounts.set(id, (jumpCounts.get(id) ?? 0) + 1)
    }
  }
  const peerBalance = Math.max(...peerCounts.values()) / mean
  const jumpBalance = Math.max(...jumpCounts.values()) / mean
  ctx.record({
    name: 'placement-balance-hashring',
    metric: 'max/mean',
    value: peerBalance,
    unit: 'x',
    peer: 'hashring (npm, ketama)',
  })
  ctx.record({
    name: 'placement-balance-jump',
    metric: 'max/mean',
    value: jumpBalance,
    unit: 'x',
    peer: 'jump consistent hash (XXH64 key)',
  })
  ctx.log(`placement peers: hashring ${peerBalance.toFixed(4)}, jump ${jumpBalance.toFixed(4)}`)
}
