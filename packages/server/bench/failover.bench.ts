import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os, { tmpdir } from 'node:os'
import path from 'node:path'
import { defineSuite, percentile, type SuiteContext } from '@shoal/bench'
import { ETCD_BINARY, EtcdCluster, etcdVersion } from '../../raft/bench/etcd.ts'
import { timeFailover } from '../../raft/bench/failover.ts'
import { recordMachineLoad, spread } from '../../raft/bench/stats.ts'
import { MASTER_KEY } from '../test/harness/cluster-processes.ts'
import {
  balanced,
  type ClusterProcess,
  createIndex,
  documents,
  isLive,
  joinNode,
  ok,
  type ShardsView,
  shards,
  shardsSettled,
  sleep,
  startCluster,
  startSearches,
  startWriter,
  until,
  vocabulary,
  waitTask,
} from './failover-cluster.ts'

/**
 * Failover, shard moves and search during a move, on real `shoal start` processes on loopback:
 * - failover: a 3-node cluster with an index of 1 shard and replication factor 3; the process of
 *   the shard's Raft leader is killed with SIGKILL and the time to the first document write whose
 *   task succeeded is measured; next to etcd (3 members, kill -9 of the leader, time to the first
 *   acknowledged put) with the same election timeout, rounds alternating which goes first;
 * - move rate: a shard of `moveDocs` documents moved to a newly joined node while a writer keeps
 *   adding documents (by the join's own rebalancing or by `POST /admin/cluster/replace`): shard
 *   JSON bytes / (move start → the newcomer's replica active), and join → balanced;
 * - search p99 during the move against the same search load just before it.
 * Environment: `FAILOVER_ROUNDS` (5), `MOVE_DOCS` (30,000), `MOVE_ROUNDS` (2; 0 measures failover only).
 */

/** Shoal's Raft tick: an election times out after 10 to 20 ticks, so 1000–2000 ms. */
const TICK_MS = 100
/** etcd the same way: heartbeat 1 tick, election timeout 10 ticks, randomised to [1×, 2×). */
const ETCD = { heartbeatMs: TICK_MS, electionMs: 10 * TICK_MS, preVote: true }

interface Plan {
  failoverRounds: number
  moveDocs: number
  loadBatch: number
  moveRounds: number
  baselineMs: number
  /** A move not finished after this long is reported as stalled. */
  stallMs: number
}

const FULL: Plan = {
  failoverRounds: Number(process.env.FAILOVER_ROUNDS ?? 5),
  moveDocs: Number(process.env.MOVE_DOCS ?? 30_000),
  loadBatch: 5_000,
  moveRounds: Number(process.env.MOVE_ROUNDS ?? 5),
  baselineMs: 15_000,
  stallMs: 240_000,
}
const SMOKE: Plan = {
  failoverRounds: 2,
  moveDocs: 1_000,
  loadBatch: 500,
  moveRounds: 2,
  baselineMs: 1_000,
  stallMs: 120_000,
}
const DOC_BYTES = 1024

const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim()
  } catch {
    return os.loadavg().join(' ')
  }
}

/**
 * One Shoal round. `busy`: a writer keeps adding documents to the shard before and through the
 * kill; otherwise the shard is idle (its Raft group quiesces, and SWIM's failure detector stands
 * in for the leader's heartbeats).
 */
async function shoalFailover(
  ctx: SuiteContext,
  nodes: ClusterProcess[],
  round: number,
  busy: boolean,
): Promise<{ ackMs: number; electedMs: number; timeline: Timeline }> {
  const live = nodes.filter(isLive)
  await until('the shard settled', 120_000, () => shardsSettled(live[0]!, 'fo'))
  const writer = busy ? startWriter(() => nodes, 'fo', ['busy', 'shard', 'words']) : null
  if (writer !== null) await sleep(2_000)
  const view = await shards(live[0]!, 'fo')
  const leaderId = view.shards[0]?.leader
  const victim = nodes.find((n) => n.nodeId === leaderId)
  if (victim === undefined) throw new Error(`no process for shard leader ${leaderId}`)
  const meta = await ok<{ metadata_leader: string }>(live[0]!, 'GET', '/_cluster/nodes')
  const survivors = nodes.filter((n) => n !== victim)
  const ledMetadata = meta.metadata_leader === victim.nodeId
  const killedAt = Date.now()
  const elected = electedAfter(survivors, performance.now())
  const metaElected = ledMetadata ? metadataElectedAfter(survivors, performance.now()) : Promise.resolve(0)
  // The first acknowledged probe: where its time went (see `Timeline`).
  let first: { node: ClusterProcess; uid: number; sentAt: number; ackAt: number } | null = null
  const timing = await timeFailover({
    kill: () => victim.kill(),
    survivors: survivors.map((n) => n.name),
    attempt: async (name, sequence, deadlineMs) => {
      const node = survivors.find((n) => n.name === name) as ClusterProcess
      const sentAt = Date.now()
      const sent = await ok<{ taskUid: number }>(node, 'POST', '/indexes/fo/documents', [
        { id: `probe-${round}-${sequence}`, title: 'failover probe' },
      ])
      await waitTask(node, sent.taskUid, deadlineMs)
      first ??= { node, uid: sent.taskUid, sentAt, ackAt: Date.now() }
    },
    // A write is a task (enqueue, then the shard leader applies it): each attempt may take 10 s, and
    // one starts every 100 ms at each survivor (etcd's probe: every 10 ms, 500 ms each).
    timing: { attemptDeadlineMs: 10_000, intervalMs: 100 },
  })
  const electedMs = await elected
  const metadataMs = await metaElected
  await writer?.stop()
  const timeline = await probeTimeline(first, killedAt, electedMs, metadataMs, ledMetadata)
  ctx.log(
    `shoal${busy ? ' (busy)' : ' (idle)'} round ${round}: ${timing.elapsedMs.toFixed(0)} ms, new shard leader seen after ${electedMs.toFixed(0)} ms (${victim.name} led the shard${ledMetadata ? ' and the metadata' : ''}; ${timing.attempts} attempts); timeline ${describeTimeline(timeline)}`,
  )
  await victim.restart()
  return { ackMs: timing.elapsedMs, electedMs, timeline }
}

/**
 * One round's steps, each in ms from the kill (wall clock of the bench and the servers: one
 * machine): the new metadata leader seen (0 when the killed node did not lead the metadata
 * group), the new shard leader seen, and for the first probe acknowledged: sent, enqueued (its
 * task's `enqueuedAt`), started and finished (`startedAt`, `finishedAt`), and its success seen by
 * the probe's polling. Gaps between them say where a slow round spent its time.
 */
interface Timeline {
  ledMetadata: boolean
  metadataLeaderSeen: number
  shardLeaderSeen: number
  probeSent: number
  enqueued: number
  started: number
  finished: number
  acknowledged: number
}

const TIMELINE_STEPS = [
  'metadataLeaderSeen',
  'shardLeaderSeen',
  'probeSent',
  'enqueued',
  'started',
  'finished',
  'acknowledged',
] as const

async function probeTimeline(
  first: { node: ClusterProcess; uid: number; sentAt: number; ackAt: number } | null,
  killedAt: number,
  electedMs: number,
  metadataMs: number,
  ledMetadata: boolean,
): Promise<Timeline> {
  const task =
    first === null
      ? null
      : await first.node
          .request<{ enqueuedAt: string; startedAt: string | null; finishedAt: string | null }>(
            'GET',
            `/tasks/${first.uid}`,
          )
          .catch(() => null)
  const at = (iso: string | null | undefined) => (iso == null ? Number.NaN : Date.parse(iso) - killedAt)
  return {
    ledMetadata,
    metadataLeaderSeen: metadataMs,
    shardLeaderSeen: electedMs,
    probeSent: first === null ? Number.NaN : first.sentAt - killedAt,
    enqueued: at(task?.body.enqueuedAt),
    started: at(task?.body.startedAt),
    finished: at(task?.body.finishedAt),
    acknowledged: first === null ? Number.NaN : first.ackAt - killedAt,
  }
}

const describeTimeline = (t: Timeline) =>
  TIMELINE_STEPS.map((step) => `${step} ${Number.isFinite(t[step]) ? t[step].toFixed(0) : '?'}`).join(', ')

/** Milliseconds from `sinceMs` until a survivor names a surviving metadata leader (polled every 50 ms). */
async function metadataElectedAfter(survivors: readonly ClusterProcess[], sinceMs: number): Promise<number> {
  const ids = new Set(survivors.map((n) => n.nodeId))
  const deadline = sinceMs + 30_000
  while (performance.now() < deadline) {
    for (const node of survivors) {
      const view = await node
        .request<{ metadata_leader: string | null }>('GET', '/_cluster/nodes')
        .catch(() => null)
      const leader = view?.body?.metadata_leader
      if (leader != null && ids.has(leader)) return performance.now() - sinceMs
    }
    await sleep(50)
  }
  return Number.NaN
}

/** Milliseconds from `sinceMs` until a survivor reports a shard leader among the survivors (polled every 50 ms). */
async function electedAfter(survivors: readonly ClusterProcess[], sinceMs: number): Promise<number> {
  const ids = new Set(survivors.map((n) => n.nodeId))
  const deadline = sinceMs + 30_000
  while (performance.now() < deadline) {
    const view = await shards(survivors[0]!, 'fo').catch(() => null)
    const leader = view?.shards[0]?.leader
    if (leader != null && ids.has(leader)) return performance.now() - sinceMs
    await sleep(50)
  }
  return Number.NaN
}

async function etcdFailover(ctx: SuiteContext, cluster: EtcdCluster, round: number): Promise<number> {
  const victim = await cluster.leader()
  const survivors = cluster.members.filter((m) => m.name !== victim).map((m) => m.name)
  const probes = new Map(survivors.map((name) => [name, cluster.client(name, { direct: true })]))
  try {
    for (const probe of probes.values()) await probe.put('failover').value('warm').exec()
    const timing = await timeFailover({
      kill: () => cluster.kill(victim),
      survivors,
      attempt: (name, sequence, deadlineMs) =>
        (probes.get(name) as ReturnType<EtcdCluster['client']>)
          .put('failover')
          .value(`v${sequence}`)
          .options({ deadline: Date.now() + deadlineMs })
          .exec(),
    })
    ctx.log(`etcd round ${round}: ${timing.elapsedMs.toFixed(0)} ms (${timing.attempts} attempts)`)
    return timing.elapsedMs
  } finally {
    for (const probe of probes.values()) probe.close()
    cluster.restart(victim)
    await sleep(1000)
    await cluster.leader()
  }
}

async function failover(ctx: SuiteContext, plan: Plan, nodes: ClusterProcess[]): Promise<void> {
  const version = etcdVersion()
  if (version === null && !ctx.smoke) throw new Error(`the full benchmark needs etcd (${ETCD_BINARY})`)
  const etcd = version === null ? null : await EtcdCluster.start(ETCD)
  const figures = {
    shoal: [] as number[],
    'shoal-busy': [] as number[],
    etcd: [] as number[],
    'shoal-leader-seen': [] as number[],
    'shoal-busy-leader-seen': [] as number[],
  }
  const timelines = { shoal: [] as Timeline[], 'shoal-busy': [] as Timeline[] }
  try {
    await createIndex(nodes[0]!, 'fo', 1, 3)
    await waitTask(
      nodes[0]!,
      (await ok<{ taskUid: number }>(nodes[0]!, 'POST', '/indexes/fo/documents', [{ id: 'seed' }])).taskUid,
    )
    for (let round = 0; round < plan.failoverRounds; round++) {
      const systems = ['shoal', 'shoal-busy', 'etcd'] as const
      const turn = [0, 1, 2].map((i) => systems[(i + round) % 3] as (typeof systems)[number])
      for (const system of turn) {
        if (system !== 'etcd') {
          const timing = await shoalFailover(ctx, nodes, round, system === 'shoal-busy')
          figures[system].push(timing.ackMs)
          figures[`${system}-leader-seen`].push(timing.electedMs)
          timelines[system].push(timing.timeline)
        } else if (etcd !== null) figures.etcd.push(await etcdFailover(ctx, etcd, round))
      }
    }
  } finally {
    await etcd?.stop()
  }
  const peer = version ?? 'etcd (absent)'
  const setting = `tick ${TICK_MS} ms, election 10–20 ticks; etcd heartbeat ${ETCD.heartbeatMs} ms, election ${ETCD.electionMs} ms (randomised to 2×), pre-vote`
  ctx.log(`election settings: ${setting}`)
  for (const [name, values] of Object.entries(figures)) {
    if (values.length === 0) continue
    const s = spread(values)
    const who = name === 'etcd' ? { peer } : {}
    ctx.record({ name: `failover-${name}`, metric: 'median', value: s.median, unit: 'ms', ...who })
    ctx.record({ name: `failover-${name}`, metric: 'min', value: s.min, unit: 'ms', ...who })
    ctx.record({ name: `failover-${name}`, metric: 'max', value: s.max, unit: 'ms', ...who })
    ctx.log(
      `failover ${name}: median ${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)}, ${values.length} rounds)`,
    )
  }
  recordTimelines(ctx, timelines)
  if (figures.etcd.length > 0) {
    // Each round times all three in turn: the ratio is the median of the per-round ratios.
    ctx.roundRatio('failover-shoal-vs-etcd', figures.shoal, figures.etcd, peer)
    ctx.roundRatio('failover-shoal-busy-vs-etcd', figures['shoal-busy'], figures.etcd, peer)
  }
  ctx.log(`uptime after failover: ${uptime()}`)
}

/**
 * Every round's timeline (`failover-<system>-timeline`, metric `r<round>-<step>`, ms from the
 * kill), the rounds whose killed node also led the metadata group, and the median of each step.
 */
function recordTimelines(ctx: SuiteContext, timelines: Record<string, Timeline[]>): void {
  for (const [system, rounds] of Object.entries(timelines)) {
    if (rounds.length === 0) continue
    const name = `failover-${system}-timeline`
    rounds.forEach((t, round) => {
      ctx.record({ name, metric: `r${round}-ledMetadata`, value: t.ledMetadata ? 1 : 0, unit: 'bool' })
      for (const step of TIMELINE_STEPS)
        if (Number.isFinite(t[step]))
          ctx.record({ name, metric: `r${round}-${step}`, value: t[step], unit: 'ms' })
    })
    const both = rounds.filter((t) => t.ledMetadata).length
    ctx.record({ name, metric: 'rounds-killing-the-metadata-leader', value: both, unit: 'rounds' })
    const medians: string[] = []
    for (const step of TIMELINE_STEPS) {
      // The metadata election only counts in rounds whose killed node led the metadata group.
      const counted = step === 'metadataLeaderSeen' ? rounds.filter((t) => t.ledMetadata) : rounds
      const values = counted.map((t) => t[step]).filter((v) => Number.isFinite(v))
      if (values.length === 0) continue
      const median = spread(values).median
      ctx.record({ name, metric: `median-${step}`, value: median, unit: 'ms' })
      medians.push(`${step} ${median.toFixed(0)}`)
    }
    ctx.log(`failover ${system} timeline medians (ms from the kill): ${medians.join(', ')}`)
  }
}

/** Loads `plan.moveDocs` documents into `big` (1 shard, RF 3); resolves with their JSON bytes. */
async function loadBig(
  ctx: SuiteContext,
  plan: Plan,
  node: ClusterProcess,
  words: string[],
): Promise<number> {
  await createIndex(node, 'big', 1, 3)
  let bytes = 0
  let unavailable = 0
  const started = performance.now()
  for (let from = 0; from < plan.moveDocs; from += plan.loadBatch) {
    const batch = documents(from, Math.min(plan.loadBatch, plan.moveDocs - from), DOC_BYTES, words)
    bytes += Buffer.byteLength(JSON.stringify(batch))
    let answer = await node.request<{ taskUid: number }>('POST', '/indexes/big/documents', batch)
    // 503 is retriable (a metadata leader change dropped the enqueue); it is counted.
    for (let attempt = 1; answer.status === 503 && attempt < 5; attempt++) {
      unavailable++
      await sleep(500)
      answer = await node.request<{ taskUid: number }>('POST', '/indexes/big/documents', batch)
    }
    if (answer.status !== 202) throw new Error(`loading: ${answer.status} ${JSON.stringify(answer.body)}`)
    await waitTask(node, answer.body.taskUid)
  }
  ctx.record({ name: 'move-load-503', metric: 'count', value: unavailable, unit: 'answers' })
  const seconds = (performance.now() - started) / 1000
  ctx.log(
    `loaded ${plan.moveDocs} documents (${(bytes / 2 ** 20).toFixed(1)} MiB of JSON) in ${seconds.toFixed(1)} s`,
  )
  ctx.record({ name: 'move-shard-size', metric: 'json-bytes', value: bytes, unit: 'bytes' })
  ctx.record({ name: 'move-shard-size', metric: 'documents', value: plan.moveDocs, unit: 'docs' })
  return bytes
}

const replicaOn = (view: ShardsView, nodeId: string) =>
  view.shards[0]?.replicas.find((r) => r.node === nodeId)

/** One move onto a newly joined node; resolves with its window and its figures. */
async function moveRound(
  dir: string,
  nodes: ClusterProcess[],
  round: number,
  args: readonly string[],
  stallMs: number,
): Promise<
  | {
      moveStart: number
      moveActive: number
      listedMs: number
      joinBalancedMs: number
      reason: string
      /** Snapshot messages the newcomer took (0: it caught up from the log alone). */
      snapshotMessages: number
      stalled?: undefined
    }
  | { stalled: Awaited<ReturnType<typeof stallReport>> }
> {
  const coordinator = nodes[0]!
  const joinedAt = performance.now()
  const newcomer = await joinNode(dir, `m${round}`, nodes, args)
  nodes.push(newcomer)
  const seen: { start: number | null; listed: number | null; active: number | null } = {
    start: null,
    listed: null,
    active: null,
  }
  const watch = async () => {
    const replica = replicaOn(await shards(coordinator, 'big'), newcomer.nodeId)
    const now = performance.now()
    if (replica !== undefined) {
      seen.start ??= now
      seen.listed ??= now
    }
    if (replica?.state === 'active') seen.active ??= now
  }
  await until('the newcomer recorded', 60_000, async () => {
    const view = await ok<{ nodes: Array<{ id: string; state: string }> }>(
      coordinator,
      'GET',
      '/_admin/cluster',
    )
    return view.nodes.some((n) => n.id === newcomer.nodeId && n.state === 'active')
  })
  await until('balanced after the join', stallMs, async () => {
    await watch()
    return (seen.start === null || seen.active !== null) && (await balanced(coordinator))
  })
  const joinBalancedMs = performance.now() - joinedAt
  let reason = 'rebalance after the join'
  if (seen.start === null) {
    // The join did not move this shard: move one follower's replica to the newcomer.
    const view = await shards(coordinator, 'big')
    const holders = view.shards[0]?.replicas.map((r) => r.node) ?? []
    const old = holders.find((id) => id !== coordinator.nodeId && id !== view.shards[0]?.leader) ?? holders[0]
    reason = 'replace'
    const started = performance.now()
    // The coordinator may list the newcomer active before its failure detector has heard from it
    // (`the new node … must be an active, live member`): the replace is asked again until taken.
    await until('the replace taken', 30_000, async () => {
      await ok(coordinator, 'POST', '/admin/cluster/replace', { old, new: newcomer.nodeId })
      return true
    })
    seen.start = started
    try {
      await until(
        'the moved replica active',
        stallMs,
        async () => {
          await watch()
          return seen.active !== null
        },
        50,
      )
    } catch {
      return { stalled: await stallReport(coordinator, newcomer, started) }
    }
    await until('balanced after the replace', stallMs, () => balanced(coordinator))
  }
  const listedMs = (seen.listed ?? Number.NaN) - seen.start
  const snapshotMessages = await snapshotMessagesReceived(newcomer)
  return {
    moveStart: seen.start,
    moveActive: seen.active ?? Number.NaN,
    listedMs,
    joinBalancedMs,
    reason,
    snapshotMessages,
  }
}

/** `shoal_raft_snapshot_messages_total{result="received"}` of `node` (-1 when unreadable). */
async function snapshotMessagesReceived(node: ClusterProcess): Promise<number> {
  const metrics = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${MASTER_KEY}` } })
    .then((r) => r.text())
    .catch(() => '')
  return Number(/^shoal_raft_snapshot_messages_total\{result="received"\} (\d+)/m.exec(metrics)?.[1] ?? -1)
}

/** What a move that never finished left behind: the newcomer's metadata copy against the leader's, dropped frames. */
async function stallReport(coordinator: ClusterProcess, newcomer: ClusterProcess, startedMs: number) {
  const version = async (node: ClusterProcess) =>
    (await node.request<{ metadataVersion: number }>('GET', '/_admin/cluster').catch(() => null))?.body
      ?.metadataVersion ?? -1
  const metrics = await fetch(`${coordinator.url}/metrics`, {
    headers: { authorization: `Bearer ${MASTER_KEY}` },
  })
    .then((r) => r.text())
    .catch(() => '')
  const oversized = Number(/^shoal_cluster_frames_oversized_total (\d+)/m.exec(metrics)?.[1] ?? -1)
  return {
    waitedMs: performance.now() - startedMs,
    newcomerMetadataVersion: await version(newcomer),
    metadataVersion: await version(coordinator),
    oversizedFrames: oversized,
  }
}

async function moves(ctx: SuiteContext, plan: Plan, dir: string, nodes: ClusterProcess[], args: string[]) {
  const words = vocabulary(5_000, ctx.seed)
  const shardBytes = await loadBig(ctx, plan, nodes[0]!, words)
  const writer = startWriter(() => nodes, 'big', words)
  const searches = startSearches(nodes[0]!, 'big', words, ctx.seed)
  const rates: number[] = []
  const ratios: number[] = []
  const balancedMs: number[] = []
  const reported = new Set<object>()
  try {
    for (let round = 0; round < plan.moveRounds; round++) {
      await sleep(plan.baselineMs)
      const written = writer.state.acknowledged * 20 * DOC_BYTES
      const move = await moveRound(dir, nodes, round, args, plan.stallMs)
      if (move.stalled !== undefined) {
        // A move that never finishes is a finding, not a figure: record it and stop moving.
        const s = move.stalled
        ctx.log(
          `move ${round} STALLED: the newcomer's replica not active after ${(s.waitedMs / 1000).toFixed(0)} s; its metadata at version ${s.newcomerMetadataVersion}, the coordinator's at ${s.metadataVersion}; the coordinator dropped ${s.oversizedFrames} oversized Raft frames; ${uptime()}`,
        )
        ctx.record({ name: `move-${round}-stalled`, metric: 'waited', value: s.waitedMs / 1000, unit: 's' })
        ctx.record({
          name: `move-${round}-stalled`,
          metric: 'newcomer-metadata-version',
          value: s.newcomerMetadataVersion,
          unit: 'version',
        })
        ctx.record({
          name: `move-${round}-stalled`,
          metric: 'metadata-version',
          value: s.metadataVersion,
          unit: 'version',
        })
        ctx.record({
          name: `move-${round}-stalled`,
          metric: 'oversized-frames',
          value: s.oversizedFrames,
          unit: 'frames',
        })
        break
      }
      const seconds = (move.moveActive - move.moveStart) / 1000
      const mib = (shardBytes + written) / 2 ** 20
      rates.push(mib / seconds)
      balancedMs.push(move.joinBalancedMs)
      // Queries in flight at any time of the move (one sent before it that answered during it
      // counts: on a busy machine a single query can span the whole move), against queries
      // answered in the baseline window before it.
      const during = searches.samples.filter(
        (s) => s.atMs <= move.moveActive && s.atMs + s.ms >= move.moveStart,
      )
      const before = searches.samples.filter(
        (s) => s.atMs + s.ms < move.moveStart && s.atMs >= move.moveStart - plan.baselineMs,
      )
      const p99During = percentile(
        during.map((s) => s.ms),
        99,
      )
      const p99Before = percentile(
        before.map((s) => s.ms),
        99,
      )
      for (const failure of searches.failures.filter(
        (f) => f.atMs + f.ms >= move.moveStart - plan.baselineMs,
      )) {
        if (reported.has(failure)) continue
        reported.add(failure)
        ctx.log(
          `move ${round}: a search FAILED, sent ${((failure.atMs - move.moveStart) / 1000).toFixed(1)} s from the move's start (active at ${((move.moveActive - move.moveStart) / 1000).toFixed(1)} s), after ${failure.ms.toFixed(0)} ms: ${failure.reason}`,
        )
      }
      const measured = during.length > 0 && before.length > 0
      if (measured) ratios.push(p99During / p99Before)
      ctx.log(
        `move ${round} (${move.reason}, ${move.snapshotMessages} snapshot messages received): ${mib.toFixed(1)} MiB in ${seconds.toFixed(1)} s (newcomer listed after ${(move.listedMs / 1000).toFixed(1)} s) = ${(mib / seconds).toFixed(1)} MiB/s; join → balanced ${(move.joinBalancedMs / 1000).toFixed(1)} s; search p99 ${p99During.toFixed(1)} ms during (${during.length} queries) vs ${p99Before.toFixed(1)} ms before (${before.length}); ${uptime()}`,
      )
      ctx.record({ name: `move-${round}`, metric: 'MiB/s', value: mib / seconds, unit: 'MiB/s' })
      ctx.record({ name: `move-${round}`, metric: 'seconds', value: seconds, unit: 's' })
      ctx.record({
        name: `move-${round}-snapshot-messages`,
        metric: 'count',
        value: move.snapshotMessages,
        unit: 'messages',
      })
      // No query answered on one side (a machine too busy): no p99 for this round, only the counts.
      if (measured) {
        ctx.record({
          name: `move-${round}-search-p99-during`,
          metric: 'p99-latency',
          value: p99During,
          unit: 'ms',
        })
        ctx.record({
          name: `move-${round}-search-p99-before`,
          metric: 'p99-latency',
          value: p99Before,
          unit: 'ms',
        })
      }
      ctx.record({
        name: `move-${round}-search-samples-during`,
        metric: 'count',
        value: during.length,
        unit: 'queries',
      })
      ctx.record({
        name: `join-${round}-balanced`,
        metric: 'seconds',
        value: move.joinBalancedMs / 1000,
        unit: 's',
      })
      ctx.record({
        name: `machine-load-move-${round}`,
        metric: 'loadavg-1m',
        value: os.loadavg()[0] ?? 0,
        unit: 'load',
      })
    }
  } finally {
    await searches.stop()
    await writer.stop()
  }
  for (const failure of searches.failures.filter((f) => !reported.has(f)))
    ctx.log(`a search FAILED outside the moves, after ${failure.ms.toFixed(0)} ms: ${failure.reason}`)
  ctx.record({
    name: 'writer',
    metric: 'acknowledged-batches',
    value: writer.state.acknowledged,
    unit: 'batches',
  })
  ctx.record({ name: 'writer', metric: 'failed-batches', value: writer.state.failed, unit: 'batches' })
  ctx.record({ name: 'search', metric: 'failed', value: searches.state.failed, unit: 'queries' })
  if (rates.length === 0) return
  const rate = spread(rates)
  ctx.record({ name: 'move-rate', metric: 'median', value: rate.median, unit: 'MiB/s' })
  ctx.record({ name: 'join-balanced', metric: 'median', value: spread(balancedMs).median / 1000, unit: 's' })
  if (ratios.length === 0) return
  // Each move round times searches before the move and during it: a per-round ratio.
  const ratio = ctx.recordSpread('search-p99-move-vs-idle', 'ratio', 'x', ratios, { ratio: true })
  ctx.log(
    `move rate median ${rate.median.toFixed(1)} MiB/s; search p99 during/before ${ratio.median.toFixed(2)}x (max ${ratio.max.toFixed(2)}x); writer ${writer.state.acknowledged} ok / ${writer.state.failed} failed; searches failed ${searches.state.failed}`,
  )
}

export default defineSuite({
  description:
    'Failover (kill -9 of the shard leader → first succeeded write) vs etcd with the same election timeout; shard move rate while writing; join → balanced; search p99 during a move vs before',
  async run(ctx) {
    const plan = ctx.smoke ? SMOKE : FULL
    recordMachineLoad(ctx, 'start')
    ctx.log(`uptime at start: ${uptime()}`)
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-failover-bench-'))
    const args = ['--raft-tick-ms', String(TICK_MS), '--replica-grace-ms', '600000', '--log-level', 'error']
    const nodes: ClusterProcess[] = []
    try {
      nodes.push(...(await startCluster(dir, args)))
      await failover(ctx, plan, nodes)
      // The last round's killed node restarts: wait until every replica is back and caught up.
      await until('the cluster back after the failover rounds', 120_000, () => shardsSettled(nodes[0]!, 'fo'))
      // Only the large shard moves in what follows (an idle shard's move waits for a write: see the README).
      await waitTask(nodes[0]!, (await ok<{ taskUid: number }>(nodes[0]!, 'DELETE', '/indexes/fo')).taskUid)
      if (plan.moveRounds > 0) await moves(ctx, plan, dir, nodes, args)
    } finally {
      await Promise.all(nodes.map((n) => n.kill()))
      await rm(dir, { recursive: true, force: true })
      recordMachineLoad(ctx, 'end')
      ctx.log(`uptime at end: ${uptime()}`)
    }
  },
})
