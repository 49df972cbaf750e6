import {
  type MetadataCommand,
  type MetadataState,
  type PlannedMove,
  REBALANCE_SETTING,
  REPLACE_SETTING_PREFIX,
  replacementsOf,
  type ShardMovesPlan,
} from '@shoal/cluster'
import { ApiError, type ErrorBody } from '../errors.ts'
import type { ClusterOperation } from '../task-types.ts'
import type { MoveInFlight } from './moves-in-flight.ts'

/**
 * The pure half of cluster operation tasks (`clusterRebalance`, `nodeDrain`, `nodeReplace`): how
 * one starts (the metadata commands, or why it cannot), and, from the metadata, the plan and the
 * moves in flight, where it stands. Everything it needs is in the metadata and in the task's
 * own `details`, so a new metadata leader carries a task on from where the last one left it.
 */

/** A move in a task's details. */
export interface MoveDetail {
  readonly index: string
  readonly shard: number
  readonly from: string | null
  readonly to: string | null
  /** How far the newcomer has caught up, 0 to 1. */
  readonly progress: number
  /** Snapshot bytes it received so far. */
  readonly bytes: number
}

/** What `details` of a cluster operation task holds (`GET /tasks/{uid}`). */
export interface OperationDetails {
  /** The node drained, or the node replaced (`nodeDrain`, `nodeReplace`). */
  readonly node?: string
  /** The node taking the replaced node's replicas (`nodeReplace`). */
  readonly replacement?: string
  /** The drained or replaced node's state before the operation (restored when a drain fails). */
  readonly nodeStateBefore?: string
  /** Replica moves the operation needs: known at the start, grown when the plan grows. */
  readonly movesPlanned: number
  readonly movesDone: number
  readonly movesInFlight: number
  /** Moves the per-node limits hold back for now. */
  readonly movesWaiting: number
  /** Snapshot bytes received by the new replicas of the operation's moves, ended and in flight. */
  readonly bytesMoved: number
  /** The moves under way. */
  readonly inFlight: readonly MoveDetail[]
  /** The next moves the controller starts (the plan). */
  readonly nextMoves: readonly {
    index: string
    shard: number
    from: string | null
    to: string | null
    reason: string
  }[]
  /** Indexes that cannot be placed, with why. */
  readonly unplaceable: readonly { index: string; reason: string }[]
  /**
   * Why the operation cannot go on for now, empty when nothing holds it: shard groups of the node
   * without a live majority (cut off by a partition, or their nodes down), waited for while their
   * voters may come back.
   */
  readonly waitingFor: readonly string[]
}

export type OperationStep =
  | { readonly kind: 'running'; readonly details: OperationDetails }
  | { readonly kind: 'succeeded'; readonly details: OperationDetails }
  /** `stuck`: true when the failure only holds while it lasts (the runner waits before failing). */
  | {
      readonly kind: 'failed'
      readonly details: OperationDetails
      readonly error: ErrorBody
      readonly stuck: boolean
    }

export type OperationStart =
  | {
      readonly kind: 'start'
      readonly commands: readonly MetadataCommand[]
      readonly details: OperationDetails
    }
  | { readonly kind: 'failed'; readonly error: ErrorBody; readonly details: OperationDetails }

/** The error of an operation that cannot proceed: no node can take a replica, for example. */
export function moveImpossible(message: string): ErrorBody {
  return new ApiError(400, 'cluster_move_impossible', message).toBody()
}

const EMPTY: OperationDetails = {
  movesPlanned: 0,
  movesDone: 0,
  movesInFlight: 0,
  movesWaiting: 0,
  bytesMoved: 0,
  inFlight: [],
  nextMoves: [],
  unplaceable: [],
  waitingFor: [],
}

export interface OperationInput {
  readonly state: MetadataState
  readonly alive: (nodeId: string) => boolean
  /** Since when a node that is not alive has been down (SWIM), undefined when unknown. */
  readonly downSinceMs: (nodeId: string) => number | undefined
  readonly plan: ShardMovesPlan
  readonly nowMs: number
  /**
   * How long a drain or replacement waits for a shard group's voters to come back once it has no
   * live majority (a partition, a restart): a voter down for longer no longer counts on coming back.
   */
  readonly majorityWaitMs: number
}

/**
 * Replicas of `nodeId`, the shards among them with no node able to take the replica now, and those
 * whose group has lost its majority: fewer than a majority of its voters live. Such a group has no
 * leader, so it cannot add a replica or drop one (every membership change is a Raft entry the
 * majority must commit) until enough of its voters come back. `leaderless` lists those that may
 * still get their majority back (enough voters live or down for less than `majorityWaitMs`: a
 * partition that heals, a node restarting), `majorityLost` those that cannot (their voters gone
 * from the cluster, or down for longer). Likewise a replica no live node can take now is
 * `unreceived` while a node down for less than `majorityWaitMs` could take it once back, and
 * `stranded` when none could.
 */
function holdings(input: OperationInput, nodeId: string) {
  const { state } = input
  const replacing = new Set(Object.keys(replacementsOf(state.settings)))
  const receivers = Object.values(state.nodes)
    .filter((n) => n.state === 'active' && input.alive(n.id) && !replacing.has(n.id) && n.id !== nodeId)
    .map((n) => n.id)
  let held = 0
  let moving = 0
  const stranded: string[] = []
  const unreceived: string[] = []
  const leaderless: string[] = []
  const majorityLost: string[] = []
  const mayReturn = (id: string): boolean => {
    const record = state.nodes[id]
    if (record === undefined || record.state === 'left') return false
    const since = input.downSinceMs(id) ?? record.updatedAtMs
    return input.nowMs - since < input.majorityWaitMs
  }
  // Nodes that could take a replica once back (recorded dead while down, active again on return).
  const returning = Object.values(state.nodes)
    .filter(
      (n) =>
        (n.state === 'active' || n.state === 'dead') &&
        !input.alive(n.id) &&
        !replacing.has(n.id) &&
        n.id !== nodeId &&
        mayReturn(n.id),
    )
    .map((n) => n.id)
  for (const [uid, shards] of Object.entries(state.shards))
    for (const shard of shards) {
      const mine = shard.replicas.find((r) => r.nodeId === nodeId)
      if (mine === undefined) continue
      held++
      // The group's voters as recorded (an arriving replica votes only once it has caught up).
      const voters = shard.replicas.filter((r) => r.role === 'voter' && r.state !== 'initializing')
      const live = voters.filter((r) => input.alive(r.nodeId)).length
      const majority = Math.floor(voters.length / 2) + 1
      if (voters.length > 0 && live < majority) {
        const back = voters.filter((r) => !input.alive(r.nodeId) && mayReturn(r.nodeId)).length
        const shardName = `${uid}/${shard.shard} (${live} of ${voters.length} voters live)`
        if (live + back >= majority) leaderless.push(shardName)
        else majorityLost.push(shardName)
      }
      // On its way out already, or an arrival the controller rolls back (the node may not receive).
      if (mine.state !== 'active') {
        moving++
        continue
      }
      // A node whose replica of the shard is leaving can take this one once it has left: the
      // shard's move under way holds the drain back for now, it does not strand it.
      const takes = (id: string) => !shard.replicas.some((r) => r.nodeId === id && r.state !== 'removing')
      if (receivers.some(takes)) continue
      if (returning.some(takes)) unreceived.push(`${uid}/${shard.shard}`)
      else stranded.push(`${uid}/${shard.shard}`)
    }
  return { held, moving, stranded, unreceived, leaderless, majorityLost, receivers: receivers.length }
}

function nodeName(state: MetadataState, id: string): string {
  return state.nodes[id]?.name ?? id
}

/** How a task starts: the metadata commands that set it going, or why it cannot start. */
export function startOperation(
  operation: ClusterOperation,
  uid: number,
  input: OperationInput,
): OperationStart {
  const { state } = input
  switch (operation.kind) {
    case 'clusterRebalance': {
      const planned = input.plan.start.length + input.plan.waiting + input.plan.inFlight
      return {
        kind: 'start',
        commands: [{ type: 'setting.put', key: REBALANCE_SETTING, value: String(uid) }],
        details: { ...EMPTY, movesPlanned: planned },
      }
    }
    case 'nodeDrain': {
      const record = state.nodes[operation.nodeId]
      const base = { ...EMPTY, node: operation.nodeId, nodeStateBefore: record?.state ?? 'gone' }
      if (record === undefined || record.state === 'left')
        return { kind: 'start', commands: [], details: base }
      const { held, stranded, unreceived, leaderless, majorityLost } = holdings(input, operation.nodeId)
      if (majorityLost.length > 0)
        return {
          kind: 'failed',
          details: { ...base, movesPlanned: held },
          error: noMajority('drain', record.name, majorityLost),
        }
      if (stranded.length > 0)
        return {
          kind: 'failed',
          details: { ...base, movesPlanned: held },
          error: moveImpossible(
            `cannot drain ${record.name}: no other live active node can take its replica of ${describeShards(stranded)}`,
          ),
        }
      return {
        kind: 'start',
        commands: [
          {
            type: 'node.state',
            nodeId: operation.nodeId,
            state: 'draining',
            ifState: ['active', 'joining', 'dead', 'draining'],
            atMs: input.nowMs,
          },
        ],
        details: { ...base, movesPlanned: held, waitingFor: waitingFor(leaderless, unreceived) },
      }
    }
    case 'nodeReplace': {
      const old = state.nodes[operation.oldNodeId]
      const replacement = state.nodes[operation.newNodeId]
      const base = {
        ...EMPTY,
        node: operation.oldNodeId,
        replacement: operation.newNodeId,
        nodeStateBefore: old?.state ?? 'gone',
      }
      if (replacement === undefined || replacement.state !== 'active' || !input.alive(replacement.id))
        return {
          kind: 'failed',
          details: base,
          error: moveImpossible(
            `${nodeName(state, operation.newNodeId)} cannot take the replicas: it is not an active, live member`,
          ),
        }
      if (replacementsOf(state.settings)[replacement.id] !== undefined)
        return {
          kind: 'failed',
          details: base,
          error: moveImpossible(`${replacement.name} is itself being replaced`),
        }
      const { held, leaderless, majorityLost } = holdings(input, operation.oldNodeId)
      if (majorityLost.length > 0)
        return {
          kind: 'failed',
          details: { ...base, movesPlanned: held },
          error: noMajority('replace', nodeName(state, operation.oldNodeId), majorityLost),
        }
      const commands: MetadataCommand[] = [
        {
          type: 'setting.put',
          key: `${REPLACE_SETTING_PREFIX}${operation.oldNodeId}`,
          value: replacement.id,
        },
      ]
      if (old !== undefined && (old.state === 'active' || old.state === 'joining'))
        commands.push({
          type: 'node.state',
          nodeId: old.id,
          state: 'draining',
          ifState: ['active', 'joining'],
          atMs: input.nowMs,
        })
      return {
        kind: 'start',
        commands,
        details: { ...base, movesPlanned: held, waitingFor: waitingFor(leaderless, []) },
      }
    }
  }
}

/** The error of a drain or replacement held up by shard groups without a live majority. */
function noMajority(verb: 'drain' | 'replace', name: string, shards: readonly string[]): ErrorBody {
  return moveImpossible(
    `cannot ${verb} ${name}: the group of ${describeShards(shards)} has lost its majority, so it has no leader to move a replica; bring enough of its nodes back, or restore from a backup (docs/operations/recover-majority-loss.md)`,
  )
}

/**
 * What `details.waitingFor` says of shard groups without a live majority that may get it back, and
 * of replicas that only a node down for now could take.
 */
function waitingFor(leaderless: readonly string[], unreceived: readonly string[]): string[] {
  const reasons: string[] = []
  if (leaderless.length > 0)
    reasons.push(
      `the group of ${describeShards(leaderless)} has no live majority, so no replica can join or leave it until enough of its voters are back (a partition healing, a node restarting)`,
    )
  if (unreceived.length > 0)
    reasons.push(
      `no live active node can take the replica of ${describeShards(unreceived)}; a node down for now can, once it is back`,
    )
  return reasons
}

function describeShards(shards: readonly string[]): string {
  const listed = shards.slice(0, 5).join(', ')
  return shards.length > 5 ? `${listed} and ${shards.length - 5} more shard(s)` : listed
}

export function describeMove(move: PlannedMove) {
  return {
    index: move.index,
    shard: move.shard,
    from: move.from ?? null,
    to: move.to ?? null,
    reason: move.reason,
  }
}

/**
 * Where a started task stands. `previous` is its details as last recorded; `moves` the moves in
 * flight with the newcomers' progress. Moves that were in flight and are no more have ended; their
 * bytes stay counted in `bytesMoved`.
 */
export function followOperation(
  operation: ClusterOperation,
  previous: OperationDetails,
  input: OperationInput,
  moves: readonly MoveInFlight[],
): OperationStep {
  const { state, plan } = input
  const involved = (m: { from?: string | null; to?: string | null }): boolean => {
    if (operation.kind === 'clusterRebalance') return true
    const nodeId = operation.kind === 'nodeDrain' ? operation.nodeId : operation.oldNodeId
    return m.from === nodeId
  }
  const inFlight: MoveDetail[] = moves.filter(involved).map((m) => ({
    index: m.index,
    shard: m.shard,
    from: m.from,
    to: m.to,
    progress: m.progress,
    bytes: m.bytes,
  }))
  const key = (m: { index: string; shard: number }) => `${m.index}/${m.shard}`
  const now = new Set(inFlight.map(key))
  const ended = previous.inFlight.filter((m) => !now.has(key(m)))
  const before = new Map(previous.inFlight.map((m) => [key(m), m.bytes]))
  // Bytes of ended moves stay; a move still in flight counts what its newcomer reports now (never
  // less than last seen: a newcomer that restarted starts its count again).
  const endedBase = previous.bytesMoved - previous.inFlight.reduce((sum, m) => sum + m.bytes, 0)
  const bytesMoved =
    endedBase +
    ended.reduce((sum, m) => sum + m.bytes, 0) +
    inFlight.reduce((sum, m) => sum + Math.max(m.bytes, before.get(key(m)) ?? 0), 0)
  const nextMoves = plan.start.filter(involved).map(describeMove)
  const common = {
    ...previous,
    movesInFlight: inFlight.length,
    bytesMoved,
    inFlight: inFlight.map((m) => ({ ...m, bytes: Math.max(m.bytes, before.get(key(m)) ?? 0) })),
    nextMoves,
    unplaceable: plan.unplaceable.map((u) => ({ index: u.index, reason: u.reason })),
    waitingFor: [],
  }
  if (operation.kind === 'clusterRebalance') {
    const movesDone = previous.movesDone + ended.length
    const remaining = inFlight.length + plan.waiting + plan.start.length
    const details: OperationDetails = {
      ...common,
      movesDone,
      movesWaiting: plan.waiting,
      movesPlanned: Math.max(previous.movesPlanned, movesDone + remaining),
    }
    const requested = state.settings[REBALANCE_SETTING] !== undefined
    const balanced = plan.start.length === 0 && plan.waiting === 0 && plan.inFlight === 0
    return { kind: requested && !balanced ? 'running' : 'succeeded', details }
  }
  const nodeId = operation.kind === 'nodeDrain' ? operation.nodeId : operation.oldNodeId
  const { held, moving, stranded, unreceived, leaderless, majorityLost } = holdings(input, nodeId)
  const movesDone = Math.max(previous.movesDone, previous.movesPlanned - held)
  const details: OperationDetails = {
    ...common,
    movesDone,
    movesWaiting: Math.max(0, held - moving),
    movesPlanned: Math.max(previous.movesPlanned, movesDone + held),
    waitingFor: waitingFor(leaderless, unreceived),
  }
  const record = state.nodes[nodeId]
  if (operation.kind === 'nodeDrain') {
    if (record === undefined || (record.state === 'left' && held === 0)) return { kind: 'succeeded', details }
  } else if (held === 0 && state.settings[`${REPLACE_SETTING_PREFIX}${nodeId}`] === undefined)
    return { kind: 'succeeded', details }
  // A group without a majority cannot change its members. It waits (saying so in `waitingFor`)
  // while enough of its voters may come back, a partition healing or a node restarting; once
  // they have been gone longer than `majorityWaitMs` it cannot finish, and fails.
  if (majorityLost.length > 0)
    return {
      kind: 'failed',
      details,
      stuck: false,
      error: noMajority(
        operation.kind === 'nodeDrain' ? 'drain' : 'replace',
        nodeName(state, nodeId),
        majorityLost,
      ),
    }
  if (stranded.length > 0 && moving === 0)
    return {
      kind: 'failed',
      details,
      stuck: true,
      error: moveImpossible(
        `cannot ${operation.kind === 'nodeDrain' ? 'drain' : 'replace'} ${nodeName(state, nodeId)}: no other live active node can take its replica of ${describeShards(stranded)}`,
      ),
    }
  return { kind: 'running', details }
}

/** The metadata commands that undo a failed drain or replacement: the node keeps its replicas. */
export function undoOperation(
  operation: ClusterOperation,
  details: OperationDetails,
  nowMs: number,
): MetadataCommand[] {
  if (operation.kind === 'clusterRebalance') return [{ type: 'setting.delete', key: REBALANCE_SETTING }]
  const nodeId = operation.kind === 'nodeDrain' ? operation.nodeId : operation.oldNodeId
  const commands: MetadataCommand[] = []
  if (operation.kind === 'nodeReplace')
    commands.push({ type: 'setting.delete', key: `${REPLACE_SETTING_PREFIX}${nodeId}` })
  if (details.nodeStateBefore === 'active' || details.nodeStateBefore === 'joining')
    commands.push({ type: 'node.state', nodeId, state: 'active', ifState: ['draining'], atMs: nowMs })
  return commands
}
