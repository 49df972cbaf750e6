/**
 * What the cluster-idle benchmark's parent and its node processes say to
 * each other over the IPC channel of `child_process.fork`. The parent sends
 * one command at a time per node and waits for its reply; nothing is sent
 * while a measuring window is open, so the channel adds no traffic to it.
 */
import type { NodeLiveness } from '@shoal/raft'

/** Argument of a node process (JSON in `argv[2]`). */
export interface NodeProcessConfig {
  dataDir: string
  /** Hex of the shared cluster key. */
  clusterKeyHex: string
  tickMs: number
  electionTicks: number
}

export type NodeCommand =
  /** Every node's id (its libp2p peer id) and listen addresses, this node's included. */
  | { op: 'peers'; peers: Record<string, string[]> }
  /** Hosts `names`, founded with `voters`; `campaign`: this node starts an election in each. */
  | { op: 'addGroups'; names: string[]; voters: string[]; campaign: boolean }
  /** Hands over to `to` every group this node leads (leadership transfer, Raft thesis §3.10). */
  | { op: 'transfer'; to: string }
  | { op: 'status' }
  /** A full collection, then heap and external bytes. */
  | { op: 'memory' }
  | { op: 'liveness'; node: string; liveness: NodeLiveness }
  /** Open-loop proposals: `ratePerS` in all, spread round-robin over `groups`, for `durationMs`. */
  | { op: 'load'; groups: string[]; ratePerS: number; durationMs: number; valueBytes: number }
  | { op: 'stop' }

export interface NodeStatus {
  groups: number
  quiescedGroups: number
  leaderOf: number
  itemsSent: number
  framesSent: number
  itemsReceived: number
  itemsDropped: number
  /** Ticks the host delivered to awake groups. */
  groupTicks: number
  /** Raft messages sent by type (`RaftHostMetrics.raftMessagesByType`). */
  raftMessagesByType: Record<string, number>
  /** Sums of this node's `shoal_p2p_*` counters over peers and protocols. */
  p2pMessagesSent: number
  p2pBytesSent: number
  p2pMessagesReceived: number
  p2pBytesReceived: number
  p2pFramesDropped: number
  /** `process.cpuUsage()`, user + system, in microseconds. */
  cpuMicros: number
}

export interface NodeMemory {
  heapUsedBytes: number
  externalBytes: number
  arrayBuffersBytes: number
  rssBytes: number
  /** False when the process has no `gc()`; the figures then include garbage. */
  collected: boolean
}

export interface LoadOutcome {
  proposed: number
  committed: number
  failed: number
  /** From the first proposal to the last answer. */
  elapsedMs: number
  p50Ms: number
  p99Ms: number
  firstError: string | null
}

export type NodeReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string }

/** The first message of a node process, once its transport listens. */
export interface NodeReady {
  ready: true
  peerId: string
  addrs: string[]
}
