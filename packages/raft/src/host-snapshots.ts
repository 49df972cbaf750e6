import type { NodeId, SnapshotMessage } from './core/index.ts'

/** Sends one snapshot message over the transport's stream path; rejects when it did not arrive. */
export type SendSnapshot = (toNode: NodeId, group: string, message: SnapshotMessage) => Promise<void>

/** Counters of the snapshot path, part of `RaftHostMetrics`. */
export interface SnapshotCounts {
  snapshotsSent: number
  snapshotsFailed: number
  /** Messages dropped because the transfer they repeat was still under way or had just arrived. */
  snapshotsSuperseded: number
}

interface Link {
  /** The message the core sent while another was in flight; the newest wins. */
  waiting: SnapshotMessage | null
}

const sameChunk = (a: SnapshotMessage, b: SnapshotMessage): boolean =>
  a.meta.index === b.meta.index && a.meta.term === b.meta.term && a.offset === b.offset && a.term === b.term

/**
 * The host's side of the snapshot stream path: snapshot messages leave the
 * frames and go through `HostTransport.sendSnapshot`, at most one in flight
 * per group and destination node. The core sends one chunk at a time and
 * waits for the follower's `snapshotResponse` (which comes back in a frame);
 * when nothing answers for `SNAPSHOT_RESEND_HEARTBEATS` heartbeats it sends
 * the chunk again. So a failed transfer needs no report: it is counted and
 * forgotten, and the core's resend retries it. A message the core sends
 * while its link is busy waits (the newest replaces an older one) and goes
 * out when the transfer ends, unless it repeats the chunk that just arrived.
 */
export class SnapshotStreams {
  readonly #send: SendSnapshot
  readonly #counts: SnapshotCounts
  readonly #links = new Map<string, Link>()
  #stopped = false

  constructor(send: SendSnapshot, counts: SnapshotCounts) {
    this.#send = send
    this.#counts = counts
  }

  /** Transfers in flight (for tests and metrics). */
  get inFlight(): number {
    return this.#links.size
  }

  send(toNode: NodeId, group: string, message: SnapshotMessage): void {
    if (this.#stopped) return
    const key = `${group}\u0000${toNode}`
    const link = this.#links.get(key)
    if (link !== undefined) {
      if (link.waiting !== null) this.#counts.snapshotsSuperseded++
      link.waiting = message
      return
    }
    this.#start(key, toNode, group, message)
  }

  /** Sends nothing more; transfers under way finish or fail on their own. */
  stop(): void {
    this.#stopped = true
    for (const link of this.#links.values()) link.waiting = null
  }

  #start(key: string, toNode: NodeId, group: string, message: SnapshotMessage): void {
    const link: Link = { waiting: null }
    this.#links.set(key, link)
    this.#counts.snapshotsSent++
    let transfer: Promise<void>
    try {
      transfer = this.#send(toNode, group, message)
    } catch (error) {
      transfer = Promise.reject(error)
    }
    transfer.then(
      () => this.#finish(key, toNode, group, message, true),
      () => {
        this.#counts.snapshotsFailed++
        this.#finish(key, toNode, group, message, false)
      },
    )
  }

  #finish(key: string, toNode: NodeId, group: string, sent: SnapshotMessage, arrived: boolean): void {
    const link = this.#links.get(key)
    this.#links.delete(key)
    const next = link?.waiting ?? null
    if (next === null || this.#stopped) return
    // A resend of the chunk that just arrived would only be answered again.
    if (arrived && sameChunk(next, sent)) {
      this.#counts.snapshotsSuperseded++
      return
    }
    this.#start(key, toNode, group, next)
  }
}
